"""c51.py's projected target: where each atom's probability goes, worked out by hand."""

import torch
from conftest import load_algorithm

c51 = load_algorithm("c51")

ATOMS = torch.linspace(0.0, 4.0, 5)  # z = 0, 1, 2, 3, 4; Δz = 1


def project(next_probs, reward, terminated, gamma):
    rows = torch.tensor([next_probs])
    return c51.project(rows, torch.tensor([reward]), torch.tensor([terminated]), gamma, ATOMS)[0]


def test_an_atom_between_two_is_shared_in_proportion_to_its_distance():
    # γ = 1, r = 0.25: z_j moves to z_j + 0.25, a quarter of the way to the next atom
    m = project([0.0, 1.0, 0.0, 0.0, 0.0], reward=0.25, terminated=0.0, gamma=1.0)
    torch.testing.assert_close(m, torch.tensor([0.0, 0.75, 0.25, 0.0, 0.0]))


def test_an_atom_that_lands_exactly_on_an_atom_keeps_its_whole_probability():
    # r = 1: every T z_j is an atom (l = u), where both shares of the formula would be 0
    m = project([0.1, 0.2, 0.3, 0.4, 0.0], reward=1.0, terminated=0.0, gamma=1.0)
    torch.testing.assert_close(m, torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4]))
    m = project([0.2, 0.2, 0.2, 0.2, 0.2], reward=0.0, terminated=0.0, gamma=1.0)
    torch.testing.assert_close(m, torch.tensor([0.2, 0.2, 0.2, 0.2, 0.2]))


def test_discounting_contracts_the_distribution_towards_the_reward():
    # γ = 0.5, r = 1: z = 0, 2, 4 move to 1, 2, 3; total probability is kept
    m = project([0.5, 0.0, 0.25, 0.0, 0.25], reward=1.0, terminated=0.0, gamma=0.5)
    torch.testing.assert_close(m, torch.tensor([0.0, 0.5, 0.25, 0.25, 0.0]))


def test_a_termination_puts_everything_on_the_reward():
    m = project([0.1, 0.2, 0.3, 0.2, 0.2], reward=2.5, terminated=1.0, gamma=0.99)
    torch.testing.assert_close(m, torch.tensor([0.0, 0.0, 0.5, 0.5, 0.0]))


def test_returns_beyond_the_atoms_pile_up_on_the_end_atoms():
    m = project([0.3, 0.0, 0.0, 0.0, 0.7], reward=10.0, terminated=0.0, gamma=1.0)
    torch.testing.assert_close(m, torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]))
    m = project([0.3, 0.0, 0.0, 0.0, 0.7], reward=-10.0, terminated=0.0, gamma=1.0)
    torch.testing.assert_close(m, torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0]))


def test_the_mean_of_the_target_is_the_bellman_target_of_the_mean():
    # inside [v_min, v_max] the projection keeps the mean: Σ z m = r + γ (1 − d) Σ z p(s', a*)
    torch.manual_seed(0)
    next_probs = torch.softmax(torch.randn(64, 5), dim=1)
    rewards = torch.rand(64)
    terminations = (torch.rand(64) < 0.3).float()
    atoms = torch.linspace(0.0, 4.0, 5)
    m = c51.project(next_probs, rewards, terminations, 0.7, atoms)  # r + 0.7 z ≤ 1 + 2.8 < 4: inside
    torch.testing.assert_close(m.sum(dim=1), torch.ones(64))
    expected = rewards + 0.7 * (1 - terminations) * (next_probs * atoms).sum(dim=1)
    torch.testing.assert_close((m * atoms).sum(dim=1), expected)
