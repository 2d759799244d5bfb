"""noisy_dqn.py's NoisyLinear: factorised Gaussian noise, the paper's initialisation, the means alone
in evaluation."""

import math

import torch
from conftest import load_algorithm

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
