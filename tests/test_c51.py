"""c51.py's projected target: where each atom's probability goes, worked out by hand."""

import pytest
import torch
from conftest import load_algorithm

c51 = load_algorithm("c51")

ATOMS = torch.linspace(0.0, 4.0, 5)  # z = 0, 1, 2, 3, 4; Δz = 1


# (p(s', a*), r, terminated, γ, the target m worked out by hand)
CASES = {
    # γ = 1, r = 0.25: z_j moves a quarter of the way to the next atom, which takes a quarter of p_j
    "shared in proportion to the distance": ([0, 1, 0, 0, 0], 0.25, 0, 1.0, [0, 0.75, 0.25, 0, 0]),
    # r = 1: every T z_j is an atom (l = u), where both shares of the formula would be 0
    "landing on an atom keeps the whole probability": (
        [0.1, 0.2, 0.3, 0.4, 0],
        1.0,
        0,
        1.0,
        [0, 0.1, 0.2, 0.3, 0.4],
    ),
    "r = 0, γ = 1 leaves it as it is": ([0.2] * 5, 0.0, 0, 1.0, [0.2] * 5),
    # γ = 0.5, r = 1: z = 0, 2, 4 move to 1, 2, 3
    "discounting contracts it towards r": ([0.5, 0, 0.25, 0, 0.25], 1.0, 0, 0.5, [0, 0.5, 0.25, 0.25, 0]),
    "a termination puts everything on r": ([0.1, 0.2, 0.3, 0.2, 0.2], 2.5, 1, 0.99, [0, 0, 0.5, 0.5, 0]),
    "beyond v_max, the last atom": ([0.3, 0, 0, 0, 0.7], 10.0, 0, 1.0, [0, 0, 0, 0, 1]),
    "below v_min, the first atom": ([0.3, 0, 0, 0, 0.7], -10.0, 0, 1.0, [1, 0, 0, 0, 0]),
}


@pytest.mark.parametrize("next_probs, reward, terminated, gamma, expected", CASES.values(), ids=CASES.keys())
def test_the_projected_target(next_probs, reward, terminated, gamma, expected):
    m = c51.project(
        torch.tensor([next_probs], dtype=torch.float32),
        torch.tensor([reward]),
        torch.tensor([float(terminated)]),
        gamma,
        ATOMS,
    )
    torch.testing.assert_close(m[0], torch.tensor(expected, dtype=torch.float32))


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
