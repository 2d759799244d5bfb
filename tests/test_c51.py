"""c51.py's projected target: where each atom's probability goes, worked out by hand; for it and
rainbow.py's copy of its lines, on every support: the mass kept, no atom past the ends, the mean kept;
and c51.py's learning step, by hand."""

import probes
import pytest
import torch
from conftest import load_algorithm

c51 = load_algorithm("c51")
rainbow = load_algorithm("rainbow")

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


# The supports of the property test below: every integer range (−v, v) and (0, v), v = 1…500, at the
# paper's 51 atoms (float32 spacing makes Δz inexact for 269 of them), and random ones at other counts.
random_supports = torch.Generator().manual_seed(0)
SUPPORTS = [(lo, hi, 51) for v in range(1, 501) for lo, hi in ((-v, v), (0, v))] + [
    (lo, lo + span, n_atoms)
    for n_atoms in (2, 3, 5, 11, 21, 101, 201)
    for lo, span in zip(
        (torch.randn(50, generator=random_supports) * 100).tolist(),
        (torch.rand(50, generator=random_supports) * 500 + 1e-3).tolist(),
    )
]


@pytest.mark.parametrize("name", ["c51", "rainbow"])
def test_on_any_support_the_mass_stays_on_the_atoms_and_the_mean_is_the_bellman_target(name):
    generator, gamma = torch.Generator().manual_seed(1), 0.9
    for v_min, v_max, n_atoms in SUPPORTS:
        atoms = torch.linspace(v_min, v_max, n_atoms)  # as both files make them
        span = v_max - v_min
        next_probs = torch.softmax(torch.randn(64, n_atoms, generator=generator), dim=1)
        # rewards exactly at both ends; then anywhere from a span below v_min to a span above v_max; then
        # where r + γ z stays inside the support for every atom z, (1 − γ) v_min ≤ r ≤ (1 − γ) v_max
        uniform = torch.rand(64, generator=generator)
        rewards = torch.cat(
            [
                torch.tensor([v_min, v_max, v_max, v_min]),
                v_min - span + 3 * span * uniform[4:34],
                (1 - gamma) * (v_min + span * uniform[34:]),
            ]
        )
        terminations = (torch.rand(64, generator=generator) < 0.3).float()
        terminations[:4] = torch.tensor([1.0, 1.0, 0.0, 0.0])
        terminations[34:] = 0.0  # the last 30 bootstrap
        # an index past the last atom would make scatter_add_ raise here
        if name == "c51":
            m = c51.project(next_probs, rewards, terminations, gamma, atoms)
        else:  # rainbow's transitions carry the discount g = γ (1 − d) in place of d
            m = rainbow.project(next_probs, rewards, gamma * (1 - terminations), atoms)
        assert m.min() >= 0, (v_min, v_max, n_atoms)
        torch.testing.assert_close(m.sum(dim=1), torch.ones(64), msg=f"{(v_min, v_max, n_atoms)}")
        # where every T z_j lies inside the support, nothing is clipped, and Σ z m = r + γ (1 − d) Σ z p
        tz = rewards.unsqueeze(1) + gamma * (1 - terminations.unsqueeze(1)) * atoms
        inside = ((tz >= v_min) & (tz <= v_max)).all(dim=1)
        assert inside[34:].sum() >= 25, (v_min, v_max, n_atoms)  # rounding puts a few just outside
        expected = rewards + gamma * (1 - terminations) * (next_probs * atoms).sum(dim=1)
        torch.testing.assert_close(
            (m * atoms).sum(dim=1)[inside],
            expected[inside],
            atol=1e-5 * span,
            rtol=1e-5,
            msg=f"{(v_min, v_max, n_atoms)}",
        )


# The learning step, by hand, on the chain of probes.py with the probabilities P and P_TARGET there and
# γ = 0.5. From state 0 (r = 1, on to state 1) the target network chooses a* = 0 (Q⁻ = 3) and its
# distribution, all on z = 3, moves to T z = 1 + 0.5 · 3 = 2.5: m = (0, 0, 0.5, 0.5). From state 1 (r = 2)
# the episode terminates: m is all on z = 2. The gradient of the cross-entropy −Σ m log p with respect to
# the logits is p − m.
TARGETS = {0: [0.0, 0.0, 0.5, 0.5], 1: [0.0, 0.0, 1.0, 0.0]}


@pytest.mark.parametrize(("env_id", "states"), [("Chain-v0", {0, 1}), ("ChainCut-v0", {0})])
def test_each_update_learns_the_cross_entropy_of_a_transition_to_its_projected_target(
    monkeypatch, env_id, states
):
    online, target = probes.logits(probes.P, -30), probes.logits(probes.P_TARGET, -1e4)
    probes.q_tables(c51, monkeypatch, online, target, atoms=probes.ATOMS)
    optimizer = probes.recording_adam(monkeypatch)
    buffers = probes.recording_buffer(c51, monkeypatch)
    support = dict(n_atoms=4, v_min=0.0, v_max=3.0)
    c51.train(c51.Args(env_id=env_id, **probes.REPLAY_PROBE, **support, start_e=1.0, end_e=1.0))
    updates = probes.distribution_updates(optimizer[0], buffers[0])
    # cut by a time limit in state 1, the chain's one transition bootstraps; the reset step is none
    assert len(updates) > 30 and {state for (state, _), _ in updates} == states
    for (state, action), gradient in updates:
        p = torch.softmax(torch.tensor(online[state][action]), dim=0)
        torch.testing.assert_close(gradient, p - torch.tensor(TARGETS[state]), msg=str((state, action)))
