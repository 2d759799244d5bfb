"""ppo_atari.py's rollout on the chain of tests/probes.py seen as a screen: the rewards clipped to their
sign, a lost life ending the bootstrap and the advantage's sum. Its update is ppo.py's (tests/test_ppo.py
holds that one by hand); its screens, networks and short Atari runs: tests/test_pixels.py."""

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import ATARI_EXTRA, load_algorithm
from probes import SCREEN_CHAINS, ScreenChain
from torch.distributions import Categorical

pytestmark = pytest.mark.skipif(not ATARI_EXTRA, reason="the atari extra: pip install -e '.[atari]'")


class LinearActorCritic(nn.Module):
    """ppo_atari's ActorCritic for the chain's 1×1 screens, which no convolution takes: linear heads."""

    def __init__(self, obs_shape, n_actions, pixel_max):
        super().__init__()
        self.actor, self.critic = nn.Linear(3, n_actions), nn.Linear(3, 1)

    def forward(self, x):
        x = x.flatten(1).float()
        return Categorical(logits=self.actor(x)), self.critic(x).squeeze(-1)

    def greedy(self, x):
        return self.actor(x.flatten(1).float()).argmax(dim=1)


def recorded_rollouts(module, monkeypatch) -> list:
    """Every call of the rollout's add(), with its arguments."""
    calls = []
    real_add = module.Rollout.add

    def add(self, t, obs, actions, rewards, terminations, truncations, autoreset):
        calls.append(
            dict(rewards=rewards.copy(), terminations=terminations.copy(), autoreset=autoreset.copy())
        )
        return real_add(self, t, obs, actions, rewards, terminations, truncations, autoreset)

    monkeypatch.setattr(module.Rollout, "add", add)
    return calls


@pytest.mark.parametrize("life_loss", [True, False])
def test_ppo_atari_learns_from_clipped_rewards_and_ends_the_advantage_at_a_lost_life(monkeypatch, life_loss):
    ppo = load_algorithm("ppo_atari")
    calls = recorded_rollouts(ppo, monkeypatch)
    monkeypatch.setattr(ppo, "ActorCritic", LinearActorCritic)
    settings = dict(
        num_envs=1, num_steps=6, total_timesteps=12, eval_episodes=1, life_loss_ends_bootstrap=life_loss
    )
    ppo.train(ppo.Args(env_id=SCREEN_CHAINS[2], **settings))
    # one env, episodes of two steps and a reset: leaving 0 (r 1, a life lost), leaving 1 (r 2 → 1, the end)
    steps = [(float(c["rewards"][0]), float(c["terminations"][0]), bool(c["autoreset"][0])) for c in calls]
    episode = [(1.0, float(life_loss), False), (1.0, 1.0, False), (0.0, 0.0, True)]
    assert steps == (episode * 4)[:12]


def test_ppo_atari_s_advantages_stop_at_a_lost_life():
    ppo = load_algorithm("ppo_atari")
    rollout = ppo.Rollout(3, 1, (3, 1, 1), bool)
    # three steps of one game: a life lost at step 0 (terminated for learning), the game going on
    for t, (reward, terminated) in enumerate([(1.0, True), (1.0, False), (0.0, False)]):
        rollout.add(
            t,
            np.zeros((1, 3, 1, 1)),
            [0],
            [reward],
            np.array([terminated]),
            np.array([False]),
            np.zeros(1, bool),
        )
    values = np.array([[0.5], [0.25], [2.0], [4.0]], dtype=np.float32)
    gamma, lam = 0.5, 0.8
    delta2 = 0.0 + gamma * 4.0 - 2.0
    delta1 = 1.0 + gamma * 2.0 - 0.25
    expected = [[1.0 - 0.5], [delta1 + gamma * lam * delta2], [delta2]]  # step 0's sum stops at the lost life
    np.testing.assert_allclose(rollout.advantages(values, gamma, lam), expected, rtol=1e-6)


def test_the_torso_and_the_heads_are_initialised_orthogonally_with_their_gains_and_zero_biases():
    agent = load_algorithm("ppo_atari").ActorCritic((4, 84, 84), 4, 255.0)
    layers = [m for m in agent.torso.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    for layer, gain in [*((layer, 2**0.5) for layer in layers), (agent.actor, 0.01), (agent.critic, 1.0)]:
        weight = layer.weight.detach().flatten(
            1
        )  # each output's weights a row: orthogonal rows of norm `gain`
        torch.testing.assert_close(weight @ weight.T, gain**2 * torch.eye(len(weight)), atol=1e-4, rtol=1e-4)
        assert not layer.bias.any()


class StaggeredScreenChain(ScreenChain):
    """The screen chain, whose every other copy starts its episodes in state 1: envs out of step."""

    made = 0

    def __init__(self, render_mode=None):
        super().__init__(render_mode=render_mode)
        self.start, StaggeredScreenChain.made = StaggeredScreenChain.made % 2, StaggeredScreenChain.made + 1

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        self.state = self.start
        return self.observe(), info


gym.register("MinAtar/StaggeredScreenChain-v0", entry_point=StaggeredScreenChain)


def test_v_old_of_each_step_and_env_is_its_own_screen_s(monkeypatch):
    # the rollout's steps × envs go through the network as one batch of screens and come back as (steps, envs):
    # each V_old(s_t) must be the value of env i's screen at step t, whatever the order of the flattening
    ppo = load_algorithm("ppo_atari")
    monkeypatch.setattr(ppo, "ActorCritic", LinearActorCritic)
    seen = []
    real_advantages = ppo.Rollout.advantages

    def advantages(self, values, gamma, gae_lambda):
        seen.append((self.obs.copy(), values.copy()))
        return real_advantages(self, values, gamma, gae_lambda)

    monkeypatch.setattr(ppo.Rollout, "advantages", advantages)
    made = []
    real_init = LinearActorCritic.__init__

    def init(self, *args):
        real_init(self, *args)
        with torch.no_grad():  # V of the chain's states 0, 1, 2: 10, 20, 30
            self.critic.weight.copy_(torch.tensor([[10.0, 20.0, 30.0]]))
            self.critic.bias.zero_()
        made.append(self)

    monkeypatch.setattr(LinearActorCritic, "__init__", init)
    # 3 envs and 5 steps, the envs' episodes (of 2 steps or 1, and a reset) out of step with each other
    StaggeredScreenChain.made = 0
    settings = dict(num_envs=3, num_steps=5, total_timesteps=15, eval_episodes=1, learning_rate=1e-12)
    ppo.train(ppo.Args(env_id="MinAtar/StaggeredScreenChain-v0", **settings))
    obs, values = seen[0]
    states = obs.reshape(6, 3, 3).argmax(axis=2)  # (steps + 1, envs): the one-hot channel of each screen
    assert (states[:, 0] != states[:, 1]).any()  # the envs differ, so that a mix-up of steps and envs shows
    np.testing.assert_allclose(values, 10.0 * (states + 1), rtol=1e-5)
    assert len(made) == 1
