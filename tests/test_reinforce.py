"""reinforce.py's returns: termination cuts a return, truncation bootstraps it, and a step that does both
terminated; and its update, by hand: on the chain whose episodes end at different steps (tests/probes.py,
StaggeredChain), with a table of logits for the policy and a table of values for the baseline, the
gradient of each update is the one worked out here from the returns and the actions drawn."""

import gymnasium as gym
import numpy as np
import probes
import pytest
import torch
from conftest import load_algorithm

reinforce = load_algorithm("reinforce")


def test_a_step_both_terminated_and_truncated_is_not_bootstrapped():
    # three episodes of two steps: the first terminates, the second is truncated, the third
    # terminates on the very step its time limit ends it
    batch = reinforce.EpisodeBatch(max_steps=2, num_envs=3, obs_dim=1)
    alive, obs = np.ones(3, dtype=bool), np.zeros((3, 1))
    no = np.zeros(3, dtype=bool)
    batch.add(0, obs, np.zeros(3), np.ones(3), alive, no, no, obs)
    ended = batch.add(
        1, obs, np.zeros(3), np.ones(3), alive, np.array([1, 0, 1], bool), np.array([0, 1, 1], bool), obs + 7
    )
    assert ended.all()
    np.testing.assert_array_equal(batch.truncated, [False, True, False])
    np.testing.assert_array_equal(batch.last_obs[:, 0], [7, 7, 7])

    values = np.full(3, 10.0, dtype=np.float32)  # V(s_{T+1}), used only where truncated
    returns = batch.returns(2, gamma=0.5, bootstrap=np.where(batch.truncated, values, 0.0))
    np.testing.assert_allclose(returns[:, 0], [1 + 0.5, 1])  # terminated: 1 + γ·1
    np.testing.assert_allclose(returns[:, 1], [1 + 0.5 * (1 + 0.5 * 10), 1 + 0.5 * 10])
    np.testing.assert_allclose(returns[:, 2], [1 + 0.5, 1])  # terminated and truncated: as terminated


class FallsOnTheLastStep(gym.Env):
    """An episode that terminates on step 3, which is also where its time limit truncates it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, dtype=np.float32), 1.0, self.t == 3, False, {}


gym.register("FallsOnTheLastStep-v0", entry_point=FallsOnTheLastStep, max_episode_steps=3)


def test_an_env_that_terminates_at_its_time_limit_ends_terminated():
    envs = reinforce.make_env("FallsOnTheLastStep-v0", 1, 0, capture_video=False, video_folder="")
    batch = reinforce.EpisodeBatch(max_steps=3, num_envs=1, obs_dim=1)
    obs, _ = envs.reset(seed=0)
    alive = np.ones(1, dtype=bool)
    for t in range(3):
        next_obs, rewards, terminations, truncations, _ = envs.step(np.zeros(1, dtype=np.int64))
        ended = batch.add(t, obs, np.zeros(1), rewards, alive, terminations, truncations, next_obs)
        obs = next_obs
    assert terminations[0] and truncations[0]  # gymnasium reports both
    assert ended[0] and not batch.truncated[0]


# π(·|s) and V(s) on the chain; state 2, where episodes end, is never learned from, and its value would
# show in a return that bootstraps from a termination.
LOGITS = [[0.2, -0.3], [0.1, 0.4], [-0.5, 0.5]]
V = [1.0, 1.25, 7.0]
# γ = 0.25, and a learning rate so small that the tables keep their values
PROBE = dict(
    seed=1,
    num_envs=2,
    total_timesteps=30,
    gamma=0.25,
    learning_rate=1e-9,
    value_learning_rate=1e-9,
    eval_episodes=1,
)

# With seed 1, env 0 plays episodes of one step from state 1, env 1 episodes of two from state 0
# (probes.StaggeredChain): each batch holds env 0's step in state 1 and env 1's in states 0 and 1.
# Returns, γ = 0.25: G(1) = 2, the episode terminates; G(0) = 1 + γ · 2 = 1.5. ψ = G − V(s):
PSI = {0: 1.5 - 1.0, 1: 2.0 - 1.25}
# ψ scaled to zero mean and unit spread over the batch's three steps (0.5, 0.75, 0.75): mean 2/3, std
# (unbiased) √((1/36 + 1/144 + 1/144) / 2) = 1/√48, so ψ̂(0) = (0.5 − 2/3) √48 = −2/√3, ψ̂(1) = 1/√3
PSI_SCALED = {0: -2 / 3**0.5, 1: 1 / 3**0.5}
# The baseline's loss mean((V(s) − G)²) over the three steps: ∂/∂V(s) = 2/3 Σ (V(s) − G) over its steps
VALUE_GRADIENT = [2 / 3 * (1.0 - 1.5), 2 / 3 * 2 * (1.25 - 2.0), 0.0]

# With a time limit of one step (StaggeredChainCut): env 0's episode, from state 1, terminates on the
# step the limit ends it, and is not bootstrapped, G(1) = 2; env 1's is truncated in state 1, and
# bootstraps from where it was cut: G(0) = 1 + γ V(1) = 1.3125.
PSI_CUT = {0: 1.3125 - 1.0, 1: 2.0 - 1.25}
VALUE_GRADIENT_CUT = [2 / 2 * (1.0 - 1.3125), 2 / 2 * (1.25 - 2.0), 0.0]


@pytest.mark.parametrize(
    ("env_id", "normalize_returns", "psi", "value_gradient"),
    [
        ("StaggeredChain-v0", False, PSI, VALUE_GRADIENT),
        ("StaggeredChainCut-v0", False, PSI_CUT, VALUE_GRADIENT_CUT),
        ("StaggeredChain-v0", True, PSI_SCALED, VALUE_GRADIENT),
    ],
)
def test_each_update_weighs_the_actions_drawn_by_the_return_less_the_baseline(
    monkeypatch, env_id, normalize_returns, psi, value_gradient
):
    policies = probes.policy_table(reinforce, monkeypatch, "Policy", LOGITS)
    probes.value_table(reinforce, monkeypatch, "Baseline", V)
    optimizers = probes.recording_adam(monkeypatch)
    reinforce.train(reinforce.Args(env_id=env_id, normalize_returns=normalize_returns, **PROBE))
    (policy,), (policy_optimizer, baseline_optimizer) = policies, optimizers

    # the steps of each batch: what was drawn in the states of running episodes; an env whose episode is
    # over idles, in state 2 where it ended, until the others' end, and is not learned from
    steps = [
        (int(state), int(action))
        for states, actions in policy.acted
        for state, action in zip(states, actions)
        if state != 2
    ]
    batch_size = 3 if env_id == "StaggeredChain-v0" else 2
    assert len(policy_optimizer.gradients) == len(steps) // batch_size > 5
    for update, (gradients,) in enumerate(policy_optimizer.gradients):
        batch = steps[update * batch_size : (update + 1) * batch_size]
        assert sorted(state for state, _ in batch) == ([0, 1, 1] if batch_size == 3 else [0, 1])
        # L(θ) = − mean ψ log π(a|s): ∂/∂logits(s) = − Σ ψ (onehot(a) − π(s)) / (the batch's steps),
        # summed over the steps in s
        expected = torch.zeros(3, 2)
        for state, action in batch:
            expected[state] -= psi[state] * probes.log_prob_gradient(LOGITS[state], action) / batch_size
        torch.testing.assert_close(gradients, expected)
    for (gradients,) in baseline_optimizer.gradients:
        torch.testing.assert_close(gradients, torch.tensor(value_gradient))
    assert len(baseline_optimizer.gradients) == len(policy_optimizer.gradients)


def test_a_batch_of_a_single_step_is_learned_from_as_it_is():
    # one env on a chain cut after one step: every batch is a single step, whose ψ has no spread to
    # scale by (its std is nan), and is learned from unscaled, not taken for a divergence
    summary = reinforce.train(
        reinforce.Args(env_id="ChainCut-v0", num_envs=1, total_timesteps=20, eval_episodes=1)
    )
    assert summary["eval_returns"] == [1.0]
