"""a2c.py: its advantages at episode ends in the middle of a rollout; its continuous mode, a Gaussian
policy whose log standard deviation is learned, and actions clipped to the bounds only on their way to
the env."""

import gymnasium as gym
import numpy as np
import torch
from conftest import load_algorithm

a2c = load_algorithm("a2c")


def test_a_continuous_run_learns_a_gaussian_policy():
    args = a2c.Args(
        env_id="Pendulum-v1", seed=1, total_timesteps=2_048, num_envs=4, eval_episodes=2, save_model=True
    )
    summary = a2c.train(args)
    agent = torch.load(summary["model_path"], weights_only=False)["agent"]
    assert agent["log_std"].shape == (1,) and agent["log_std"].item() != 0.0  # learned, from 0
    assert len(summary["eval_returns"]) == 2 and all(-2_000 < r < 0 for r in summary["eval_returns"])


def test_actions_are_clipped_only_when_sent_to_the_env():
    space = gym.make("Pendulum-v1").action_space  # [-2, 2]
    agent = a2c.ActorCritic(obs_dim=3, action_space=space, hidden_size=8)
    with torch.no_grad():
        agent.log_std.fill_(3.0)  # σ ≈ 20: most samples fall outside the bounds
        pi, _ = agent(torch.zeros(1000, 3))
        actions = pi.sample().numpy()
    assert np.abs(actions).max() > 2  # what the rollout stores and learns from
    sent = a2c.to_env(actions, space)
    assert sent.min() == -2 and sent.max() == 2
    np.testing.assert_array_equal(a2c.to_env(np.array([1]), gym.spaces.Discrete(2)), [1])


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
