"""dqn.py's learning step, by hand: on a chain of two steps (tests/probes.py), with the networks as
tables, every update's gradient is the TD error of a real transition, with its target worked out here."""

import pytest
import torch
from conftest import load_algorithm
from probes import REPLAY_PROBE, learned_from, q_tables, recording_adam

dqn = load_algorithm("dqn")

# Q(s, a) of the online network and of the target network; state 2, where episodes end, is never
# learned from, and its target values would show in a target that bootstraps from a termination.
Q = [[1.5, 1.2], [1.6, 2.5], [0.0, 0.0]]
Q_TARGET = [[0.9, 0.3], [1.8, 1.5], [7.0, 9.0]]
# γ = 0.5. From state 0: r = 1, and the episode goes on to state 1: y = 1 + γ max_a' Q⁻(1, a') = 1 + 0.9.
# From state 1: r = 2, and the episode terminates: y = 2. The TD error δ = Q(s, a) − y is below 1 in
# size, where the Huber loss's derivative is δ itself.
TD_ERRORS = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9, (1, 0): 1.6 - 2.0, (1, 1): 2.5 - 2.0}
# The same chain cut by a time limit in state 1: its one transition is truncated, not terminated, and
# bootstraps, y = 1.9; the step after it only resets the env and is no transition.
TD_ERRORS_CUT = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9}
# acting at random throughout, so that both actions are learned from
RANDOM_ACTIONS = dict(start_e=1.0, end_e=1.0)


@pytest.mark.parametrize(("env_id", "expected"), [("Chain-v0", TD_ERRORS), ("ChainCut-v0", TD_ERRORS_CUT)])
def test_each_update_learns_the_td_error_of_a_transition(monkeypatch, env_id, expected):
    q_tables(dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    dqn.train(dqn.Args(env_id=env_id, **REPLAY_PROBE, **RANDOM_ACTIONS))
    updates = [learned_from(gradients[0]) for gradients in optimizer[0].gradients]
    assert len(updates) > 30
    for update in updates:
        assert len(update) == 1  # one transition a batch: one entry of the table
        ((entry, td_error),) = update.items()
        assert entry in expected and td_error == pytest.approx(expected[entry], abs=1e-6)
    assert {entry for update in updates for entry in update} == set(expected)  # every one was learned from


def test_the_target_network_follows_by_polyak_averaging(monkeypatch):
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
