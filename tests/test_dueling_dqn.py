"""dueling_dqn.py's network: Q = V + A − mean_a A, its two streams on a shared torso."""

import torch
from conftest import load_algorithm

dueling_dqn = load_algorithm("dueling_dqn")


def test_q_is_the_value_plus_the_advantage_less_its_mean():
    torch.manual_seed(0)
    q_network = dueling_dqn.QNetwork(obs_dim=4, n_actions=3, hidden_size=8)
    with torch.no_grad():
        # the last layers of the streams set by hand: V(s) = 2, A(s, ·) = (1, 2, 6), whatever s
        for stream, bias in ((q_network.value, [2.0]), (q_network.advantage, [1.0, 2.0, 6.0])):
            stream[-1].weight.zero_()
            stream[-1].bias.copy_(torch.tensor(bias))
        q = q_network(torch.randn(5, 4))
    # mean_a A = 3: Q = 2 + (1, 2, 6) − 3
    torch.testing.assert_close(q, torch.tensor([[0.0, 1.0, 5.0]]).expand(5, 3))


def test_both_streams_learn_from_the_td_loss():
    torch.manual_seed(0)
    q_network = dueling_dqn.QNetwork(obs_dim=4, n_actions=3, hidden_size=8)
    q_network(torch.randn(5, 4))[:, 1].sum().backward()
    # ∂Q(s, 1)/∂V = 1 and ∂Q(s, 1)/∂A(s, a) = [a = 1] − 1/3: through V's bias 5, through A's (−1/3, 2/3, −1/3)·5
    torch.testing.assert_close(q_network.value[-1].bias.grad, torch.tensor([5.0]))
    torch.testing.assert_close(q_network.advantage[-1].bias.grad, torch.tensor([-5 / 3, 10 / 3, -5 / 3]))
