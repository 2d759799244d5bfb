"""Probes for the tests that pin a learning step by hand.

Each file learns inside its training loop, as the papers' pseudocode does, so these tests watch the
loop from outside: `train()` runs on a chain whose every transition is known, with its networks
replaced by tables of hand-set values, and with an Adam that records the gradient of every update.
With one transition per batch, the gradient of the loss with respect to a table is nonzero only in
the entry of the state and action learned from, and there it is the loss's derivative: for a TD loss
the TD error, for a cross-entropy p − m. So a test reads from the gradients alone what was learned
from and with which target, and compares both with values worked out by hand.
"""

import types

import gymnasium as gym
import numpy as np
import pytest
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

# Q(s, a) of an online network and of a target network for the chain, for the DQN family's probes. State
# 2, where episodes end, is never learned from; its target values would show in a target that bootstraps
# from a termination. The online network prefers action 1 in state 1, the target network action 0.
Q = [[1.5, 1.2], [1.6, 2.5], [0.0, 0.0]]
Q_TARGET = [[0.9, 0.3], [1.8, 1.5], [7.0, 9.0]]

# The Huber loss of the DQN family with its default κ, and with a κ of 0.25, which the TD errors of the
# probes exceed: its derivative is δ within κ, ±κ beyond.
HUBER = pytest.mark.parametrize("huber", [{}, dict(huber_delta=0.25)], ids=["default-kappa", "kappa-0.25"])


def huber_gradient(td_error: float, huber_delta: float = 10.0) -> float:
    """The derivative of Huber_κ at δ, κ the DQN family's default unless given."""
    return float(np.clip(td_error, -huber_delta, huber_delta))


# For the distributional files, c51.py and rainbow.py: four atoms z = 0, 1, 2, 3, and per state and
# action the probabilities of an online and a target network. The online network prefers action 1 in
# state 1 (Q = 1/30 + 2 · 0.9 + 3/30 ≈ 1.93 against 0.2), the target network action 0 (Q⁻ = 3 against 1).
ATOMS = torch.tensor([0.0, 1.0, 2.0, 3.0])
P = [
    [[0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]],
    [[0.9, 1 / 30, 1 / 30, 1 / 30], [1 / 30, 1 / 30, 0.9, 1 / 30]],
    [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]],
]
P_TARGET = [
    [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]],
    [[0.0, 0.0, 0.0, 1.0], [0.5, 0.0, 0.5, 0.0]],
    [[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]],
]


def logits(probabilities, log_zero: float) -> list:
    """The logits of these probabilities, log p, with log_zero in place of log 0: −30 leaves e^−30 of
    probability there (the online network's log-probabilities stay finite), −1e4 leaves none."""
    return torch.tensor(probabilities).log().clamp(min=log_zero).tolist()


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


def recording_adam(monkeypatch, name: str = "Adam"):
    """Replace torch.optim.Adam (or the optimizer `name`, pqn.py's RAdam) with one that keeps, at each
    step, the gradient of every parameter it updates, as the step finds it. Returns the optimizers made,
    in order; optimizer.gradients is a list with, per step, the list of the gradients of its parameters."""
    made = []

    class RecordingAdam(getattr(torch.optim, name)):
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

    monkeypatch.setattr(torch.optim, name, RecordingAdam)
    return made


def recording_buffer(module, monkeypatch, name="ReplayBuffer"):
    """Replace `module`'s buffer class `name` with one that keeps every batch it samples and, for a
    prioritized buffer, every update of its priorities. Returns the buffers made, in order;
    buffer.batches is the list of their samples, as tuples, buffer.priority_updates of the arguments
    of update_priorities, (indices, errors)."""
    made = []

    class RecordingBuffer(getattr(module, name)):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.batches, self.priority_updates = [], []
            made.append(self)

        def sample(self, *args, **kwargs):
            batch = tuple(super().sample(*args, **kwargs))
            self.batches.append(batch)
            return batch

        def update_priorities(self, idx, errors):
            self.priority_updates.append((idx.copy(), errors.copy()))
            super().update_priorities(idx, errors)

    monkeypatch.setattr(module, name, RecordingBuffer)
    return made


def learned_from(optimizer) -> list:
    """For each update, the one entry (state, action) of the online table (the optimizer's first
    parameter) that its gradient touches, and the gradient there: with one transition a batch, one entry."""
    updates = []
    for gradients in optimizer.gradients:
        entries = gradients[0].nonzero()
        assert len(entries) == 1, f"an update touched {len(entries)} entries of the table, not one"
        state, action = entries[0].tolist()
        updates.append(((state, action), float(gradients[0][state, action])))
    return updates


def distribution_updates(optimizer, buffer) -> list:
    """For each update of a distributional file: the (state, action) of the transition learned from,
    read off its batch, and the gradient of the online table of logits there, over the atoms; no other
    entry of the table may have a gradient."""
    updates = []
    for gradients, batch in zip(optimizer.gradients, buffer.batches, strict=True):
        state, action = int(batch[0][0].argmax()), int(batch[1][0])
        gradient = gradients[0].clone()
        entry = gradient[state, action].clone()
        gradient[state, action] = 0
        assert not gradient.any(), "an update touched another entry than the transition's"
        updates.append(((state, action), entry))
    return updates


class WideContinuousChain(Chain):
    """The continuous chain with actions in [0, 4] rather than [−1, 1]: the middle of their range is not 0,
    and half their range is not 1, so that an action or a noise scaled to the wrong bounds shows."""

    def __init__(self, render_mode=None):
        super().__init__(continuous=True, render_mode=render_mode)
        self.action_space = gym.spaces.Box(0.0, 4.0, (1,))


gym.register("WideContinuousChain-v0", entry_point=WideContinuousChain)


# ---- the continuous chain, for ddpg.py, td3.py and sac.py ----
# What the buffer holds after 40 steps of ContinuousChain-v0: each episode two transitions, (s, r, s', d),
# then a step that only resets the env (steps 3, 6, …, 39), which is no transition: 40 − 13 = 27 of them.
CHAIN_TRANSITIONS = ([(0, 1.0, 1, 0.0), (1, 2.0, 2, 1.0)] * 14)[:27]
# ContinuousChainCut-v0: each episode is one transition, truncated in state 1, not terminated (d = 0);
# the step after it only resets the env: 20 of them.
CUT_TRANSITIONS = [(0, 1.0, 1, 0.0)] * 20


def noise_of(monkeypatch, z):
    """Hand-set exploration noise: every draw of np.random.normal(loc, scale, size) is loc + z · scale, of
    numpy's shape (`size`, or else that of loc and scale, which must fit it). z is a number, or one number
    per action dimension: then each draw must be a noise per env and per action dimension, (envs, dims),
    as one drawn for all the envs, or for all the dimensions, would not be. Returns the scales asked for,
    one per draw."""
    scales = []

    def normal(loc=0.0, scale=1.0, size=None):
        scales.append(scale)
        parameters = np.broadcast_shapes(np.shape(loc), np.shape(scale))
        shape = parameters if size is None else np.shape(np.empty(size))  # numpy's shape of a draw
        if np.ndim(z):
            assert len(shape) == 2 and shape[1] == len(z), f"a draw of shape {shape}, not (envs, {len(z)})"
        return np.broadcast_to(loc + scale * np.broadcast_to(z, shape), shape)

    monkeypatch.setattr(np.random, "normal", normal)
    return scales


def one_hot(state: int) -> torch.Tensor:
    return torch.eye(3)[state]


def stored_transitions(buffer) -> list:
    """What a replay buffer holds of the chain, (s, r, s', d) for each transition, the states as numbers."""
    return [
        (
            int(buffer.obs[i].argmax()),
            float(buffer.rewards[i]),
            int(buffer.next_obs[i].argmax()),
            float(buffer.terminations[i]),
        )
        for i in range(buffer.size)
    ]


def linear_in_action(x, values, slopes, a) -> torch.Tensor:
    """Q(s, a) = V[s] + K[s] · a, for one-hot observations x: K[s] a number with one action dimension, a
    vector of one slope per dimension with more. The actions must come as the files' critics take them, a
    row (batch, dimensions) per observation: actions of another shape, which a network might broadcast or
    read wrong, fail here."""
    slopes_at = (x @ slopes).reshape(len(x), -1)
    assert a.shape == slopes_at.shape, f"actions of shape {tuple(a.shape)}, not {tuple(slopes_at.shape)}"
    return x @ values + (slopes_at * a).sum(dim=1)


def table_actor(tables, made: list):
    """A class to stand for ddpg.py's and td3.py's Actor: one action per state, μ(s) = table[s], a number
    with one action dimension, a vector with more. Each one made takes the next of `tables` and is
    appended to `made`; a target keeps its own table where train() copies the online actor's into it."""
    tables = iter(tables)

    class TableActor(nn.Module):
        def __init__(self, obs_dim, action_space, hidden_size):
            super().__init__()
            table = torch.tensor(next(tables))
            self.table = nn.Parameter(table.unsqueeze(1) if table.dim() == 1 else table)  # (state, action)
            made.append(self)

        def forward(self, x):
            return x @ self.table

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass  # the target actor keeps its own table

    return TableActor


def twin_linear_critic(tables, made: list):
    """A class to stand for td3.py's and sac.py's Critic: two tables linear in the action,
    Q_i(s, a) = V_i[s] + K_i[s] · a (`linear_in_action`). Each one made takes the next
    (V_1, K_1, V_2, K_2) of `tables` and is appended to `made`; a target keeps its own values where
    train() copies the online critic's into it."""
    tables = iter(tables)

    class TwinLinearCritic(nn.Module):
        def __init__(self, obs_dim, action_dim, hidden_size):
            super().__init__()
            self.tables = nn.ParameterList(nn.Parameter(torch.tensor(t)) for t in next(tables))
            made.append(self)

        def forward(self, x, a):
            v1, k1, v2, k2 = self.tables
            return linear_in_action(x, v1, k1, a), linear_in_action(x, v2, k2, a)

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass

    return TwinLinearCritic


class RecordedActions(gym.Wrapper):
    """The env, keeping each action it is given."""

    def __init__(self, env):
        super().__init__(env)
        self.actions = []

    def step(self, action):
        self.actions.append(float(action[0]))
        return super().step(action)


def recorded_chain():
    """ContinuousChain-v0 as an evaluation plays it (one copy in a vector env that records episode
    statistics), and the env inside, which keeps the actions it is given."""
    env = RecordedActions(gym.make("ContinuousChain-v0"))
    return env, gym.wrappers.vector.RecordEpisodeStatistics(gym.vector.SyncVectorEnv([lambda: env]))


# ---- two action dimensions, for ddpg.py, td3.py and sac.py: PlaneChain-v0, below, [0, 4] × [−1, 1] ----
# Its learning steps learn from batches of two transitions, so that a loss is seen to be the mean over
# the batch, and a value of the wrong shape, which broadcasts against one transition, does not.


def recording_instances(module, monkeypatch, name: str) -> list:
    """Replace `module.<name>`, a network, with a subclass of it that keeps every instance made, in order;
    returns that list."""
    made = []

    class Recorded(getattr(module, name)):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(module, name, Recorded)
    return made


def squared_error_gradients(batch, values, slopes, targets: dict) -> tuple:
    """The gradient of the mean over a batch of (Q(s, a) − y)², for Q(s, a) = V[s] + K[s] · a with K[s]
    a vector: 2 (Q(s, a) − y) / B in V[s], at the state s of each transition, and that times its action a
    in K[s]. `batch` is a sample of the buffer, `targets` the target y of each state."""
    (obs, actions, *_), values, slopes = batch, torch.tensor(values), torch.tensor(slopes)
    value_gradient, slope_gradient = torch.zeros_like(values), torch.zeros_like(slopes)
    for x, a in zip(obs, actions):
        state = int(x.argmax())
        error = values[state] + slopes[state] @ a - targets[state]
        value_gradient[state] += 2 * error / len(obs)
        slope_gradient[state] += 2 * error * a / len(obs)
    return value_gradient, slope_gradient


# ---- the policy-gradient files: a chain whose episodes end at different steps, and tables ----


class StaggeredChain(Chain):
    """The chain, where a copy first reset with an odd seed starts every episode in state 1, one step
    from the end, and the others in state 0. In a vector env seeded with 1, copy 0 (seed 1) plays
    episodes of one step and copy 1 (seed 2) episodes of two, so that they end at different steps.
    `StaggeredChain-v0` has a time limit that never cuts (reinforce.py needs one); `StaggeredChainCut-v0`
    a limit of one step, where copy 1's episodes are truncated in state 1, and copy 0's terminate in
    state 2 on the very step that the limit ends them: terminated and truncated at once."""

    start = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.start = seed % 2
        self.state = self.start
        return self.observe(), {}


gym.register("StaggeredChain-v0", entry_point=StaggeredChain, max_episode_steps=10)
gym.register("StaggeredChainCut-v0", entry_point=StaggeredChain, max_episode_steps=1)


def recording_samples(distribution, x: torch.Tensor, acted: list):
    """`distribution`, π(·|x) for one-hot observations x, whose sample() appends to `acted` the states
    acted in and the actions drawn, as drawn (before any clipping): a pair of tensors per call."""
    draw = distribution.sample

    def sample(*args, **kwargs):
        actions = draw(*args, **kwargs)
        acted.append((x.argmax(dim=-1).clone(), actions.clone()))
        return actions

    distribution.sample = sample
    return distribution


def policy_table(module, monkeypatch, name, logits):
    """Replace `module.<name>`, a network that returns π(·|s) as a Categorical (reinforce.py's Policy,
    actor_critic.py's Actor), with a table of logits: π(·|s) = softmax(logits[s]). Returns the tables
    made; table.acted lists what each call of sample() drew, as `recording_samples` keeps it."""
    made = []

    class TablePolicy(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(logits, dtype=torch.float32))
            self.acted = []
            made.append(self)

        def logits(self, x):
            return x @ self.table

        def forward(self, x):
            pi = torch.distributions.Categorical(logits=self.logits(x))
            return recording_samples(pi, x, self.acted)

    monkeypatch.setattr(module, name, TablePolicy)
    return made


def value_table(module, monkeypatch, name, values):
    """Replace `module.<name>`, a network of V(s) (reinforce.py's Baseline, actor_critic.py's Critic),
    with a table: V(s) = values[s]. Returns the tables made."""
    made = []

    class TableValue(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(values, dtype=torch.float32))
            made.append(self)

        def forward(self, x):
            return x @ self.table

    monkeypatch.setattr(module, name, TableValue)
    return made


def actor_critic_tables(module, monkeypatch, policy, values):
    """Replace `module.ActorCritic` (a2c.py's, a3c.py's) with tables: per state, the logits of π(·|s),
    or for a Box of actions the mean of a Gaussian π(·|s) whose log σ is a parameter of its own, 0 at
    first as in the files; and V(s) = values[s]. Its parameters, in order: the policy's table, the
    values' table, log σ. Returns the networks made; network.acted lists what each call of sample()
    drew (`recording_samples`), network.learned_with the parameters of each pass that computes a
    gradient, as they were then."""
    made = []

    class TableActorCritic(nn.Module):
        def __init__(self, obs_dim, action_space, hidden_size, normalize_observation=False):
            super().__init__()
            self.continuous = isinstance(action_space, gym.spaces.Box)
            self.policy = nn.Parameter(torch.tensor(policy, dtype=torch.float32))
            self.values = nn.Parameter(torch.tensor(values, dtype=torch.float32))
            if self.continuous:
                self.log_std = nn.Parameter(torch.zeros(action_space.shape[0]))
            self.acted, self.learned_with = [], []
            made.append(self)

        def forward(self, x):
            if torch.is_grad_enabled():
                self.learned_with.append([param.detach().clone() for param in self.parameters()])
            out = x @ self.policy
            if self.continuous:  # independent Gaussians, as in the files
                pi = torch.distributions.Independent(torch.distributions.Normal(out, self.log_std.exp()), 1)
            else:
                pi = torch.distributions.Categorical(logits=out)
            return recording_samples(pi, x, self.acted), x @ self.values

        def greedy(self, x):
            out = x @ self.policy
            return out if self.continuous else out.argmax(dim=1)

    monkeypatch.setattr(module, "ActorCritic", TableActorCritic)
    return made


def real_steps(k: int, episode_steps: list) -> list:
    """Which envs made a transition at step k of a run on the chain, where env i plays episodes of
    episode_steps[i] steps, each followed by a step that only resets it (next-step autoreset)."""
    return [k % (steps + 1) < steps for steps in episode_steps]


def log_prob_gradient(logits, action) -> torch.Tensor:
    """∂ log π(a|s) / ∂ logits, for π = softmax(logits): onehot(a) − π."""
    logits = torch.as_tensor(logits, dtype=torch.float32)
    return torch.eye(len(logits))[int(action)] - logits.softmax(dim=0)


def entropy_gradient(logits) -> torch.Tensor:
    """∂H / ∂ logits, for π = softmax(logits) and H = −Σ_j π_j log π_j: −π_j (log π_j + H)."""
    log_p = torch.as_tensor(logits, dtype=torch.float32).log_softmax(dim=0)
    entropy = -(log_p.exp() * log_p).sum()
    return -log_p.exp() * (log_p + entropy)


# ---- the policy-gradient files' Gaussian policies on two action dimensions (a2c.py, a3c.py, ppo.py) ----


class PlaneChain(Chain):
    """The chain with actions in [0, 4] × [−1, 1]: two dimensions whose bounds differ, neither centred on
    0 nor of half-width 1, so that a log-probability or an entropy not summed over the dimensions, an
    action of the wrong shape, or a clip to another dimension's bounds shows. The actions change nothing,
    but every one the env is given is kept, in PlaneChain.received."""

    received: list = []

    def __init__(self, render_mode=None):
        super().__init__(continuous=True, render_mode=render_mode)
        self.action_space = gym.spaces.Box(np.array([0, -1], np.float32), np.array([4, 1], np.float32))

    def step(self, action):
        PlaneChain.received.append(np.array(action, dtype=np.float64))
        return super().step(action)


gym.register("PlaneChain-v0", entry_point=PlaneChain)


class CostChain(Chain):
    """The chain whose steps cost what the chain's earn: leaving state s earns −(s + 1), so that what is
    clipped to ±10 reaches its lower side."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, -reward, terminated, truncated, info


gym.register("CostChain-v0", entry_point=CostChain)


def gaussian_log_prob(means, log_stds, action) -> torch.Tensor:
    """log π(a|s) of independent Gaussians, by hand: Σ_d −z_d²/2 − log σ_d − log √(2π), z_d = (a_d − μ_d) / σ_d."""
    means, log_stds, action = (torch.as_tensor(v, dtype=torch.float32) for v in (means, log_stds, action))
    z = (action - means) / log_stds.exp()
    return (-(z**2) / 2 - log_stds - 0.5 * np.log(2 * np.pi)).sum(-1)


def gaussian_log_prob_gradients(means, log_stds, action) -> tuple:
    """∂ log π(a|s) / ∂μ_d = z_d / σ_d and ∂ log π(a|s) / ∂ log σ_d = z_d² − 1, per dimension d, for
    independent Gaussians (H = Σ_d log σ_d + log √(2πe), so ∂H / ∂ log σ_d = 1)."""
    means, log_stds, action = (torch.as_tensor(v, dtype=torch.float32) for v in (means, log_stds, action))
    z = (action - means) / log_stds.exp()
    return z / log_stds.exp(), z**2 - 1


class ScreenChain(gym.Env):
    """tests/probes.py's chain 0 → 1 → 2 (leaving state s earns s + 1; state 2 terminates), seen as a
    1×1 screen of 3 channels, one-hot, as MinAtar's screens are (height, width, channels). With `lives`,
    the game starts with 2 lives and loses one leaving state 0, as an Atari game reports it in `info`."""

    observation_space = gym.spaces.Box(0, 1, (1, 1, 3), bool)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, lives: bool = False, render_mode=None):
        self.lives, self.render_mode = lives, render_mode
        self.game = types.SimpleNamespace(
            last_action=0
        )  # MinAtar's game, whose sticky action the files reset

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = 0
        return self.observe(), self.info()

    def step(self, action):
        reward = float(self.state + 1)
        self.state += 1
        return self.observe(), reward, self.state == 2, False, self.info()

    def observe(self):
        return np.eye(3, dtype=bool)[self.state].reshape(1, 1, 3)

    def info(self):
        return {"lives": 2 - min(self.state, 1)} if self.lives else {}


# in MinAtar's namespace, which the files take for a game's
gym.register("MinAtar/ScreenChain-v0", entry_point=ScreenChain)
gym.register("MinAtar/ScreenChainCut-v0", entry_point=ScreenChain, max_episode_steps=1)
gym.register("MinAtar/ScreenChainLives-v0", entry_point=ScreenChain, kwargs={"lives": True})
SCREEN_CHAINS = ("MinAtar/ScreenChain-v0", "MinAtar/ScreenChainCut-v0", "MinAtar/ScreenChainLives-v0")


def screen_tables(module, monkeypatch, online, target):
    """probes.q_tables for screens: Q(s, ·) = table[s], s read from the one-hot channels."""
    made, values = [], iter([online, target])

    class TableQNetwork(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(next(values), dtype=torch.float32))
            made.append(self)

        def forward(self, x):
            return x.flatten(1).float() @ self.table

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass  # the target network keeps its own table

    monkeypatch.setattr(module, "QNetwork", TableQNetwork)
    return made
