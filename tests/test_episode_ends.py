"""Termination cuts a return, truncation bootstraps it, and a step that does both terminated."""

import gymnasium as gym
import numpy as np
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


a2c = load_algorithm("a2c")


def test_a2c_advantages_stop_at_an_episode_end_in_the_middle_of_a_rollout():
    # three envs whose episodes end at step 1 of a 3-step rollout: the first terminates, the second is
    # truncated, the third does both; step 2 only resets them (next-step autoreset)
    rollout = a2c.Rollout(num_steps=3, num_envs=3, obs_dim=1, action_shape=(), action_dtype=np.int64)
    no, ends = np.zeros(3, dtype=bool), np.ones(3, dtype=bool)
    obs, actions = np.zeros((3, 1)), np.zeros(3)
    rollout.add(0, obs, actions, np.ones(3), no, no, autoreset=no)
    rollout.add(
        1, obs, actions, np.ones(3), np.array([1, 0, 1], bool), np.array([0, 1, 1], bool), autoreset=no
    )
    rollout.add(2, obs, actions, np.zeros(3), no, no, autoreset=ends)
    np.testing.assert_array_equal(rollout.real, [[1, 1, 1], [1, 1, 1], [0, 0, 0]])

    # V(s_t) for rows 0..3; row 2 holds the states the episodes ended in, row 3 the new episodes' second
    values = np.array([[1, 1, 1], [2, 2, 2], [5, 7, 5], [3, 3, 3]], dtype=np.float32)
    advantages = rollout.advantages(values, gamma=0.5, gae_lambda=0.5)
    # step 1: terminated, δ = r − V(s_1) = −1; truncated, δ = r + γ V(s_2) − V(s_1) = 2.5; both: terminated.
    # Neither sum takes in step 2, where the next episode begins.
    np.testing.assert_allclose(advantages[1], [-1, 2.5, -1])
    # step 0: δ = 1 + 0.5·2 − 1 = 1, plus γλ = 0.25 times the advantage of step 1
    np.testing.assert_allclose(advantages[0], [1 - 0.25, 1 + 0.25 * 2.5, 1 - 0.25])
