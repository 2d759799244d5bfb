"""dqn.py's learning step, by hand: on a chain of two steps (tests/probes.py), with the networks as
tables, every update's gradient is the TD error of a real transition, with its target worked out here.
dueling_dqn.py's learning step is dqn.py's line for line (only its network differs, and the tables
stand in for it), and is held to the same numbers."""

import pytest
import torch
from conftest import load_algorithm
from probes import HUBER, Q_TARGET, REPLAY_PROBE, Q, huber_gradient, learned_from, q_tables, recording_adam

# The tables Q and Q_TARGET of probes.py, γ = 0.5. From state 0: r = 1, and the episode goes on to
# state 1: y = 1 + γ max_a' Q⁻(1, a') = 1 + 0.5 · 1.8. From state 1: r = 2, and the episode
# terminates: y = 2. The TD error δ = Q(s, a) − y is below 1 in size: within κ = 10 (the default), where
# the Huber loss's derivative is δ itself; beyond a κ of 0.25, where it is ±κ.
TD_ERRORS = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9, (1, 0): 1.6 - 2.0, (1, 1): 2.5 - 2.0}
# The same chain cut by a time limit in state 1: its one transition is truncated, not terminated, and
# bootstraps, y = 1.9; the step after it only resets the env and is no transition.
TD_ERRORS_CUT = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9}
# acting at random throughout, so that both actions are learned from
RANDOM_ACTIONS = dict(start_e=1.0, end_e=1.0)


@pytest.mark.parametrize("name", ["dqn", "dueling_dqn"])
@pytest.mark.parametrize(("env_id", "expected"), [("Chain-v0", TD_ERRORS), ("ChainCut-v0", TD_ERRORS_CUT)])
@HUBER
def test_each_update_learns_the_td_error_of_a_transition(monkeypatch, name, env_id, expected, huber):
    dqn = load_algorithm(name)
    q_tables(dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    dqn.train(dqn.Args(env_id=env_id, **REPLAY_PROBE, **RANDOM_ACTIONS, **huber))
    updates = learned_from(optimizer[0])
    assert len(updates) > 30 and {entry for entry, _ in updates} == set(expected)
    for entry, gradient in updates:
        assert gradient == pytest.approx(huber_gradient(expected[entry], **huber), abs=1e-6), entry


@pytest.mark.parametrize("name", ["dqn", "dueling_dqn"])
def test_the_target_network_follows_by_polyak_averaging(monkeypatch, name):
    dqn = load_algorithm(name)
    # θ⁻ ← τ θ + (1 − τ) θ⁻ after each update; the online table hardly moves at a learning rate of 1e-9,
    # so after k updates θ⁻ = θ + (1 − τ)^k (θ⁻_0 − θ)
    tables = q_tables(dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    dqn.train(dqn.Args(env_id="Chain-v0", **(REPLAY_PROBE | dict(tau=0.1)), **RANDOM_ACTIONS))
    online, target = tables
    k = len(optimizer[0].gradients)
    expected = torch.tensor(Q) + 0.9**k * (torch.tensor(Q_TARGET) - torch.tensor(Q))
    torch.testing.assert_close(target.table.detach(), expected)
    torch.testing.assert_close(online.table.detach(), torch.tensor(Q), atol=1e-6, rtol=0)
