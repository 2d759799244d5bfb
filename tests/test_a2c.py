"""a2c.py's continuous mode: a Gaussian policy whose log standard deviation is learned, and actions
clipped to the bounds only on their way to the env."""

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
