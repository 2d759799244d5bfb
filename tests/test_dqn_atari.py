"""dqn_atari.py's learning step, by hand, on the chain of tests/probes.py seen as a screen: the rewards
clipped to their sign, κ = 1, a lost life ending the bootstrap, the target network copied every
--target-network-frequency steps; and its replay buffer of frames, each stored once, against what the envs
gave. Its screens, networks and short Atari runs: tests/test_pixels.py."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import ATARI_EXTRA, load_algorithm
from probes import Q_TARGET, REPLAY_PROBE, Q, huber_gradient, learned_from, recording_adam, screen_tables

pytestmark = pytest.mark.skipif(not ATARI_EXTRA, reason="the atari extra: pip install -e '.[atari]'")

RANDOM_ACTIONS = dict(start_e=1.0, end_e=1.0)
# γ = 0.5. From state 0: r = 1, y = 1 + γ max_a' Q⁻(1, a') = 1.9. From state 1: r = 2, clipped to 1, and the
# episode terminates: y = 1. The errors from state 1 pass κ = 1 (the default), where the gradient is ±1.
TD_ERRORS = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9, (1, 0): 1.6 - 1.0, (1, 1): 2.5 - 1.0}
# cut by a time limit in state 1: the transition from 0 is truncated, and bootstraps
TD_ERRORS_CUT = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9}
# a life lost leaving state 0: with life_loss_ends_bootstrap its target is its clipped reward alone
TD_ERRORS_LIFE_LOST = {(0, 0): 1.5 - 1.0, (0, 1): 1.2 - 1.0, (1, 0): 1.6 - 1.0, (1, 1): 2.5 - 1.0}


@pytest.mark.parametrize(
    ("env_id", "settings", "expected"),
    [
        ("MinAtar/ScreenChain-v0", {}, TD_ERRORS),
        ("MinAtar/ScreenChainCut-v0", {}, TD_ERRORS_CUT),
        ("MinAtar/ScreenChainLives-v0", {}, TD_ERRORS_LIFE_LOST),
        ("MinAtar/ScreenChainLives-v0", dict(life_loss_ends_bootstrap=False), TD_ERRORS),
    ],
    ids=["chain", "truncated", "life-lost", "life-lost-not-terminal"],
)
def test_dqn_atari_learns_the_td_error_of_clipped_rewards_and_lost_lives(
    monkeypatch, env_id, settings, expected
):
    dqn = load_algorithm("dqn_atari")
    screen_tables(dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    dqn.train(dqn.Args(env_id=env_id, **REPLAY_PROBE, **RANDOM_ACTIONS, **settings))
    updates = learned_from(optimizer[0])
    assert len(updates) > 30 and {entry for entry, _ in updates} == set(expected)
    for entry, gradient in updates:
        assert gradient == pytest.approx(huber_gradient(expected[entry], huber_delta=1.0), abs=1e-6), entry


# (--target-network-frequency, τ, --learning-starts, the copies made in the run's 40 steps): at steps 10, 20, 30
# and 40; at 14, 21, 28 and 35, not at 7, before learning starts; none
@pytest.mark.parametrize(
    ("frequency", "tau", "learning_starts", "copies"), [(10, 0.5, 2, 4), (7, 0.5, 10, 4), (1_000, 1.0, 2, 0)]
)
def test_dqn_atari_s_target_network_is_updated_every_target_network_frequency_steps(
    monkeypatch, frequency, tau, learning_starts, copies
):
    dqn = load_algorithm("dqn_atari")
    tables = screen_tables(dqn, monkeypatch, Q, Q_TARGET)
    # the online table hardly moves at a learning rate of 1e-9, so θ⁻ = θ + (1 − τ)^copies (θ⁻_0 − θ)
    settings = REPLAY_PROBE | dict(
        target_network_frequency=frequency, tau=tau, learning_starts=learning_starts
    )
    dqn.train(dqn.Args(env_id="MinAtar/ScreenChain-v0", **settings, **RANDOM_ACTIONS))
    online, target = tables
    expected = torch.tensor(Q) + (1 - tau) ** copies * (torch.tensor(Q_TARGET) - torch.tensor(Q))
    torch.testing.assert_close(target.table.detach(), expected)


class FrameCounter(gym.Env):
    """A screen of 2×2 bytes that shows the number of steps since the env was made (mod 256) and the
    episode's, so that every frame is told apart; episodes of 1 to 6 steps, ending by termination or by
    truncation, at random."""

    observation_space = gym.spaces.Box(0, 255, (2, 2), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, render_mode=None):
        self.made_steps, self.episodes = 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episodes, self.t = self.episodes + 1, 0
        self.length = int(self.np_random.integers(1, 7))
        return self.observe(), {}

    def step(self, action):
        self.t += 1
        self.made_steps += 1
        end = self.t >= self.length
        truncated = end and self.episodes % 2 == 0
        return self.observe(), float(action) - 1.0, end and not truncated, truncated, {}

    def observe(self):
        return np.array([[self.made_steps % 256, self.t], [self.episodes % 256, 7]], dtype=np.uint8)


@pytest.mark.parametrize(
    "buffer_size", [12, 40, 1_000]
)  # the ring wrapped many times (12: 6 frames an env), not at all
def test_the_frame_buffer_gives_back_every_transition_as_the_envs_gave_it(buffer_size):
    dqn = load_algorithm("dqn_atari")
    num_envs, stack = 2, 4
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.wrappers.FrameStackObservation(FrameCounter(), stack)] * num_envs
    )
    rb = dqn.ReplayBuffer(buffer_size, num_envs, (stack, 2, 2), stack, np.uint8, torch.device("cpu"), seed=0)
    obs, _ = envs.reset(seed=0)
    rb.begin(obs)
    autoreset, truth, rng = np.zeros(num_envs, bool), set(), np.random.default_rng(0)
    for _ in range(300):  # the training loop's calls, as in train()
        actions = rng.integers(0, 3, num_envs)
        next_obs, rewards, terminations, truncations, _ = envs.step(actions)
        for e in np.flatnonzero(~autoreset):
            truth.add(
                (
                    obs[e].tobytes(),
                    int(actions[e]),
                    float(rewards[e]),
                    float(terminations[e]),
                    next_obs[e].tobytes(),
                )
            )
        rb.add(next_obs, actions, rewards, terminations, autoreset)
        autoreset = terminations | truncations
        obs = next_obs
        b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(64)
        sampled = {
            (o.numpy().tobytes(), int(a), float(r), float(d), n.numpy().tobytes())
            for o, a, r, n, d in zip(b_obs, b_actions, b_rewards, b_next_obs, b_terminations)
        }
        assert sampled <= truth  # every sample a transition that happened, its stacks as the env gave them
    assert b_obs.dtype == torch.uint8 and b_obs.shape == (64, stack, 2, 2)
    if buffer_size == 1_000:  # and all of them are there: every stored transition can be drawn
        drawn = set()
        for _ in range(200):
            b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(64)
            drawn |= {
                (o.numpy().tobytes(), int(a), float(r), float(d), n.numpy().tobytes())
                for o, a, r, n, d in zip(b_obs, b_actions, b_rewards, b_next_obs, b_terminations)
            }
        assert drawn == truth


def test_a_million_atari_frames_take_at_most_eight_gigabytes():
    dqn = load_algorithm("dqn_atari")
    rb = dqn.ReplayBuffer(
        1_000_000, 1, (4, 84, 84), 4, np.uint8, torch.device("cpu"), seed=0
    )  # not yet touched
    stored = sum(value.nbytes for value in vars(rb).values() if isinstance(value, np.ndarray))
    assert rb.frames.nbytes == 1_000_000 * 84 * 84  # each frame once: 7.06 GB, not 8 × that for two stacks
    assert stored <= 8e9


@pytest.mark.parametrize("name", ["dqn_atari", "pqn_atari"])  # pqn_atari's evaluation is this one
@pytest.mark.parametrize(
    ("env_id", "life_loss", "expected"),
    [
        ("MinAtar/ScreenChain-v0", True, 1 + 0.5 * 1),  # clip(2) = 1: Q's units
        ("MinAtar/ScreenChainLives-v0", True, 1),  # the first lost life ends what Q estimates
        ("MinAtar/ScreenChainLives-v0", False, 1 + 0.5 * 1),
    ],
)
def test_the_evaluation_s_discounted_return_is_what_q_estimates(
    monkeypatch, name, env_id, life_loss, expected
):
    dqn = load_algorithm(name)
    screen_tables(dqn, monkeypatch, Q, Q_TARGET)
    network = dqn.QNetwork()
    envs = dqn.make_env(env_id, 1, 0, False, "")
    returns, predicted, discounted = dqn.evaluate(
        network, envs, 2, 7, torch.device("cpu"), 0.5, None, 0.0, life_loss
    )
    assert returns == [3.0, 3.0]  # the game's own score
    assert predicted == [pytest.approx(1.5)] * 2 and discounted == [expected] * 2  # max_a Q(0, a) = 1.5
