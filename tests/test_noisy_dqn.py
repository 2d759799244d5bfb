"""noisy_dqn.py's NoisyLinear: factorised Gaussian noise, the paper's initialisation, the means alone
in evaluation; its learning step by hand, and the noise drawn anew for every action and every update."""

import math

import pytest
import torch
from conftest import load_algorithm
from probes import HUBER, Q_TARGET, REPLAY_PROBE, Q, huber_gradient, learned_from, q_tables, recording_adam

noisy_dqn = load_algorithm("noisy_dqn")


def effective_weights(layer):
    """The weight matrix and bias the layer applies now, read from its outputs."""
    with torch.no_grad():
        bias = layer(torch.zeros(1, layer.weight_mu.shape[1]))[0]
        weight = (layer(torch.eye(layer.weight_mu.shape[1])) - bias).T
    return weight, bias


def test_initialisation_follows_the_paper():
    torch.manual_seed(0)
    layer = noisy_dqn.NoisyLinear(16, 8, sigma_0=0.5)
    bound = 1 / math.sqrt(16)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    assert layer.weight_mu.std() > bound / 3  # spread over the interval, not all near 0
    assert torch.all(layer.weight_sigma == 0.5 * bound) and torch.all(layer.bias_sigma == 0.5 * bound)


def test_the_noise_is_factorised_and_drawn_only_by_reset_noise():
    torch.manual_seed(0)
    layer = noisy_dqn.NoisyLinear(6, 4, sigma_0=0.5)
    layer.reset_noise()
    weight, bias = effective_weights(layer)
    assert torch.equal(weight, effective_weights(layer)[0])  # a forward pass draws nothing
    noise_w = (weight - layer.weight_mu) / layer.weight_sigma
    noise_b = (bias - layer.bias_mu) / layer.bias_sigma
    # one vector per output and one per input: ε_W = f(ε_out) f(ε_in)ᵀ, rank one, with ε_b = f(ε_out)
    assert torch.linalg.matrix_rank(noise_w, atol=1e-5) == 1
    f_in = noise_w[0] / noise_b[0]
    assert torch.allclose(noise_w, torch.outer(noise_b, f_in), atol=1e-5)

    layer.reset_noise()
    assert not torch.equal(weight, effective_weights(layer)[0])


def test_f_scales_a_standard_normal_by_the_square_root_of_its_size():
    # f(x) = sgn(x) √|x|: E[f(x)²] = E|x| = √(2/π) for x ~ N(0, 1)
    torch.manual_seed(0)
    layer = noisy_dqn.NoisyLinear(100_000, 1, sigma_0=0.5)
    layer.reset_noise()
    assert abs(layer.eps_in.pow(2).mean().item() - math.sqrt(2 / math.pi)) < 0.01
    assert abs((layer.eps_in > 0).float().mean().item() - 0.5) < 0.01


def test_evaluation_uses_the_means():
    torch.manual_seed(0)
    q_network = noisy_dqn.QNetwork(obs_dim=4, n_actions=2, hidden_size=8, sigma_0=0.5)
    q_network.reset_noise()
    obs = torch.randn(5, 4)
    noisy = q_network(obs)
    q_network.eval()
    means = q_network(obs)
    q_network.train()
    assert not torch.allclose(noisy, means)
    for layer in q_network.network:
        if isinstance(layer, noisy_dqn.NoisyLinear):
            layer.weight_sigma.data.zero_()
            layer.bias_sigma.data.zero_()
    assert torch.allclose(q_network(obs), means)  # without σ the noisy network is its means


# the noisy networks of both files, for CartPole
NOISY_NETWORKS = {
    "noisy_dqn": lambda: noisy_dqn.QNetwork(obs_dim=4, n_actions=2, hidden_size=16, sigma_0=0.5),
    "rainbow": lambda: load_algorithm("rainbow").QNetwork(
        4, 2, 16, True, True, 0.5, torch.linspace(-100, 100, 51)
    ),
}


@pytest.mark.parametrize("name", NOISY_NETWORKS)
def test_evaluate_plays_the_means_and_leaves_the_network_noisy(name):
    module = load_algorithm(name)
    torch.manual_seed(0)
    q_network = NOISY_NETWORKS[name]()
    noisy_layers = [layer for layer in q_network.modules() if isinstance(layer, module.NoisyLinear)]
    envs = module.make_env("CartPole-v1", 1, 0, capture_video=False, video_folder="")
    evaluation = (envs, 3, 7, torch.device("cpu"), 0.99)
    with torch.no_grad():
        for layer in noisy_layers:
            layer.weight_sigma.fill_(0.0)
            layer.bias_sigma.fill_(0.0)
        means = module.evaluate(q_network, *evaluation)
        for layer in noisy_layers:
            layer.weight_sigma.fill_(10.0)  # noise that would swamp the means, were it on
            layer.bias_sigma.fill_(10.0)
        assert module.evaluate(q_network, *evaluation) == means
    assert q_network.training  # training goes on with the noise


# The learning step is dqn.py's (tests/test_dqn.py), with the tables Q and Q_TARGET of probes.py and
# γ = 0.5: y = 1 + 0.5 · 1.8 from state 0, y = 2 (terminated) from state 1. Acting greedily on the tables,
# which have no noise, the agent takes action 0 in state 0 (1.5 > 1.2) and action 1 in state 1 (2.5 > 1.6).
TD_ERRORS = {(0, 0): 1.5 - 1.9, (1, 1): 2.5 - 2.0}


@HUBER
def test_each_update_learns_the_td_error_and_the_noise_is_drawn_for_every_action_and_update(
    monkeypatch, huber
):
    tables = q_tables(noisy_dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    args = noisy_dqn.Args(env_id="Chain-v0", **REPLAY_PROBE, **huber)
    noisy_dqn.train(args)
    updates = learned_from(optimizer[0])
    assert len(updates) > 30 and {entry for entry, _ in updates} == set(TD_ERRORS)
    for entry, gradient in updates:
        assert gradient == pytest.approx(huber_gradient(TD_ERRORS[entry], **huber), abs=1e-6), entry
    online, target = tables
    # new noise in the online network before each of the 40 actions and each update, in the target
    # network before each update
    assert online.noise_draws == args.total_timesteps + len(updates)
    assert target.noise_draws == len(updates)
