"""pqn_atari.py: what it adds to pqn.py. A lost life ends the Q(λ) return's bootstrap and its sum (on the
chain of tests/probes.py seen as a screen, which loses a life leaving state 0), the paper's network (a
LayerNorm before every ReLU, over each position's channels after a convolution) and its initialisation.
Its update and loop are pqn.py's, tested on both files in test_pqn.py; its screens and short Atari runs
in test_pixels.py."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import ATARI_EXTRA, load_algorithm
from probes import Q, recording_adam, screen_tables

pytestmark = pytest.mark.skipif(not ATARI_EXTRA, reason="the atari extra: pip install -e '.[atari]'")


# The screen chain with lives: leaving state 0 earns 1 and loses a life, leaving state 1 earns 2 (clipped
# to 1) and ends the game. With the table Q (max Q(1, ·) = 2.5), γ = 0.5 and λ = 0.8: from state 1, G = 1;
# from state 0, a lost life that ends the bootstrap gives G = 1, and one that does not
# G = 1 + 0.5 (2.5 + 0.8 (1 − 2.5)) = 1.65.
@pytest.mark.parametrize(("life_loss", "from_state_0"), [(True, 1.0), (False, 1.65)])
def test_a_lost_life_ends_the_return_s_bootstrap_and_its_sum(monkeypatch, life_loss, from_state_0):
    pqn = load_algorithm("pqn_atari")
    made = screen_tables(pqn, monkeypatch, Q, Q)
    optimizers = recording_adam(monkeypatch, "RAdam")
    settings = dict(num_envs=1, num_steps=3, total_timesteps=60, update_epochs=1, num_minibatches=1)
    settings |= dict(gamma=0.5, q_lambda=0.8, learning_rate=1e-9, max_grad_norm=1e6, start_e=1.0, end_e=1.0)
    pqn.train(
        pqn.Args(
            env_id="MinAtar/ScreenChainLives-v0",
            eval_episodes=1,
            life_loss_ends_bootstrap=life_loss,
            **settings,
        )
    )
    assert len(made) == 1  # one network, no target
    returns = {0: from_state_0, 1: 1.0}
    (optimizer,) = optimizers
    assert len(optimizer.gradients) >= 15
    for (gradient,) in optimizer.gradients:  # (Q(s, a) − G) / n at each entry learned from
        learned = gradient.nonzero().tolist()
        for state, action in learned:
            expected = (Q[state][action] - returns[state]) / len(learned)
            assert float(gradient[state, action]) == pytest.approx(expected, abs=1e-6), (state, action)


@pytest.mark.parametrize(("obs_shape", "convolutions"), [((4, 84, 84), 3), ((4, 10, 10), 1)])
def test_each_hidden_layer_is_normalised_before_its_relu(obs_shape, convolutions):
    pqn = load_algorithm("pqn_atari")
    network = pqn.QNetwork(obs_shape, 3, 255.0)
    kinds = [type(layer) for layer in network.network]
    hidden = [nn.Conv2d, pqn.ChannelNorm, nn.ReLU] * convolutions + [
        nn.Flatten,
        nn.Linear,
        nn.LayerNorm,
        nn.ReLU,
    ]
    assert kinds == hidden + [nn.Linear]
    norms = [layer for layer in network.network if isinstance(layer, nn.LayerNorm)]
    learned = set(network.parameters())
    assert all(norm.weight in learned and norm.bias in learned for norm in norms)


def test_after_a_convolution_each_position_s_channels_are_normalised():
    # (x − mean over the channels) / √(variance over the channels + 1e-5), then each channel's gain and bias,
    # at every position of every image on its own, as the paper's LayerNorm on images channels last
    norm = load_algorithm("pqn_atari").ChannelNorm(3)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
        norm.bias.copy_(torch.tensor([0.0, -1.0, 0.5]))
    x = torch.randn(2, 3, 4, 5) * torch.arange(1.0, 6.0)  # positions of different scales
    mean = x.mean(dim=1, keepdim=True)
    variance = x.var(dim=1, unbiased=False, keepdim=True)
    expected = (x - mean) / (variance + 1e-5).sqrt() * norm.weight.view(1, 3, 1, 1) + norm.bias.view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)


def test_the_weights_are_drawn_as_the_paper_s_code_draws_them_and_the_biases_are_0():
    # flax's he_normal (lecun_normal at the output): a normal cut at ±2 of its σ, widened by 1 / 0.8796 so that
    # the variance is 2 / fan_in (1 / fan_in at the output); no weight beyond 2 / 0.8796 = 2.27 of the std
    torch.manual_seed(0)
    network = load_algorithm("pqn_atari").QNetwork((4, 84, 84), 18, 255.0)
    layers = [layer for layer in network.network if isinstance(layer, nn.Conv2d | nn.Linear)]
    for layer in layers:
        scale = 1.0 if layer is layers[-1] else 2.0  # the output layer is no ReLU's input
        std = (scale / layer.weight[0].numel()) ** 0.5
        weights = layer.weight.detach()
        assert weights.mean().abs() < 0.05 * std
        assert weights.std().item() == pytest.approx(std, rel=0.05), layer
        assert 2.15 * std < weights.abs().max() <= 2 / 0.87962566 * std * (1 + 1e-6), (
            layer
        )  # cut, not uniform
        assert not layer.bias.any()


def test_the_rollout_keeps_the_screens_as_the_env_gives_them(monkeypatch):
    pqn = load_algorithm("pqn_atari")
    made = []

    class RecordingRollout(pqn.Rollout):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(pqn, "Rollout", RecordingRollout)
    args = dict(env_id="MinAtar/Breakout-v1", num_envs=2, num_steps=8, num_minibatches=2, total_timesteps=16)
    pqn.train(pqn.Args(**args, eval_episodes=1))
    (rollout,) = made
    assert rollout.obs.dtype == np.bool_ and rollout.obs.shape == (8, 2, 4, 10, 10)
