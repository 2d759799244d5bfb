"""reinforce.py's returns: termination cuts a return, truncation bootstraps it, and a step that does both
terminated."""

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
