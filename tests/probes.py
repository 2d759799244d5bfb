"""Probes for the tests that pin a learning step by hand.

Each file learns inside its training loop, as the papers' pseudocode does, so these tests watch the
loop from outside: `train()` runs on a chain whose every transition is known, with its networks
replaced by tables of hand-set values, and with an Adam that records the gradient of every update.
With one transition per batch, the gradient of the loss with respect to a table is nonzero only in
the entry of the state and action learned from, and there it is the loss's derivative: for a TD loss
the TD error, for a cross-entropy p − m. So a test reads from the gradients alone what was learned
from and with which target, and compares both with values worked out by hand.
"""

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn


class Chain(gym.Env):
    """States 0 → 1 → 2, whatever the action, observed one-hot; leaving state s earns s + 1, and the
    episode terminates on reaching state 2. `ChainCut-v0` is the same chain with a time limit of one
    step: its episodes are truncated in state 1. With `continuous`, the actions are a number in
    [−1, 1], which changes nothing either."""

    observation_space = gym.spaces.Box(0.0, 1.0, (3,))

    def __init__(self, continuous: bool = False, render_mode=None):
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,)) if continuous else gym.spaces.Discrete(2)
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = 0
        return self.observe(), {}

    def step(self, action):
        reward = float(self.state + 1)
        self.state += 1
        return self.observe(), reward, self.state == 2, False, {}

    def observe(self):
        return np.eye(3, dtype=np.float32)[self.state]


gym.register("Chain-v0", entry_point=Chain)
gym.register("ChainCut-v0", entry_point=Chain, max_episode_steps=1)
gym.register("ContinuousChain-v0", entry_point=Chain, kwargs={"continuous": True})
gym.register("ContinuousChainCut-v0", entry_point=Chain, kwargs={"continuous": True}, max_episode_steps=1)

# Settings under which a replay file's run on the chain learns from one transition per update, from
# its third step on, and moves its tables by no more than 1e-9 an update, so that every gradient is
# taken at the hand-set values. With the target network's τ as small, the target keeps its values too.
REPLAY_PROBE = dict(
    batch_size=1,
    buffer_size=100,
    learning_starts=2,
    train_frequency=1,
    total_timesteps=40,
    learning_rate=1e-9,
    tau=1e-9,
    gamma=0.5,
    eval_episodes=1,
)


def q_tables(module, monkeypatch, online, target, atoms=None):
    """Replace `module.QNetwork` with tables: the first network train() makes, the online one, holds
    `online`, the second, the target network, holds `target`; Q(s, ·) = table[s]. With `atoms`, the
    tables hold for each state and action the logits of a distribution on them, and Q is its mean.
    The target keeps its own table where train() copies the online network's into it, so that a value
    read from the wrong network shows. Returns the tables made, in order."""
    made, values = [], iter([online, target])

    class TableQNetwork(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(next(values), dtype=torch.float32))
            self.register_buffer("atoms", atoms)
            made.append(self)

        def outputs(self, x):
            """(batch, actions, atoms) logits, or (batch, actions, 1) values without atoms (rainbow.py)."""
            out = torch.einsum("bs,s...->b...", x, self.table)
            return out if self.atoms is not None else out.unsqueeze(2)

        def log_probs(self, x):
            return self.outputs(x).log_softmax(dim=2)

        def forward(self, x):
            if self.atoms is None:
                return self.outputs(x).squeeze(2)
            return self.outputs(x).softmax(dim=2) @ self.atoms

        def reset_noise(self):
            self.noise_draws = getattr(self, "noise_draws", 0) + 1

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass  # the target network keeps its own table

    monkeypatch.setattr(module, "QNetwork", TableQNetwork)
    return made


def recording_adam(monkeypatch):
    """Replace torch.optim.Adam with an Adam that keeps, at each step, the gradient of every parameter
    it updates, as the step finds it. Returns the optimizers made, in order; optimizer.gradients is a
    list with, per step, the list of the gradients of its parameters."""
    made = []

    class RecordingAdam(torch.optim.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.gradients = []
            made.append(self)

        def step(self, closure=None):
            parameters = [param for group in self.param_groups for param in group["params"]]
            self.gradients.append(
                [None if param.grad is None else param.grad.clone() for param in parameters]
            )
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    return made


def recording_buffer(module, monkeypatch, name="ReplayBuffer"):
    """Replace `module`'s buffer class `name` with one that keeps every batch it samples. Returns the
    buffers made, in order; buffer.batches is the list of their samples, as tuples."""
    made = []

    class RecordingBuffer(getattr(module, name)):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.batches = []
            made.append(self)

        def sample(self, *args, **kwargs):
            batch = tuple(super().sample(*args, **kwargs))
            self.batches.append(batch)
            return batch

    monkeypatch.setattr(module, name, RecordingBuffer)
    return made


def learned_from(gradient: torch.Tensor):
    """The (state, action) entries of a table's gradient that are not zero, each with its value
    (with atoms, the vector over the atoms)."""
    if gradient.dim() == 2:
        return {(int(s), int(a)): float(gradient[s, a]) for s, a in gradient.nonzero()}
    entries = gradient.abs().sum(dim=2).nonzero()
    return {(int(s), int(a)): gradient[s, a] for s, a in entries}
