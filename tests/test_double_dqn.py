"""double_dqn.py's learning step, by hand, as tests/test_dqn.py's: the online network chooses the next
action, the target network values it."""

import pytest
from conftest import load_algorithm
from probes import HUBER, Q_TARGET, REPLAY_PROBE, Q, huber_gradient, learned_from, q_tables, recording_adam

double_dqn = load_algorithm("double_dqn")

# The tables Q and Q_TARGET of probes.py, γ = 0.5. From state 0 (r = 1, on to state 1) the online
# network chooses a* = argmax_a' Q(1, a') = 1 (2.5 > 1.6), and the target network values it:
# y = 1 + γ Q⁻(1, 1) = 1 + 0.5 · 1.5 = 1.75, where dqn.py's max_a' Q⁻(1, a') would give 1.9 and the
# online network's own value 2.25. From state 1 (r = 2) the episode terminates: y = 2.
TD_ERRORS = {(0, 0): 1.5 - 1.75, (0, 1): 1.2 - 1.75, (1, 0): 1.6 - 2.0, (1, 1): 2.5 - 2.0}
# cut by a time limit in state 1: truncated, so it bootstraps as above; the reset step is no transition
TD_ERRORS_CUT = {(0, 0): 1.5 - 1.75, (0, 1): 1.2 - 1.75}


@pytest.mark.parametrize(("env_id", "expected"), [("Chain-v0", TD_ERRORS), ("ChainCut-v0", TD_ERRORS_CUT)])
@HUBER
def test_each_update_learns_the_double_td_error_of_a_transition(monkeypatch, env_id, expected, huber):
    q_tables(double_dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    double_dqn.train(double_dqn.Args(env_id=env_id, **REPLAY_PROBE, start_e=1.0, end_e=1.0, **huber))
    updates = learned_from(optimizer[0])
    assert len(updates) > 30 and {entry for entry, _ in updates} == set(expected)
    for entry, gradient in updates:
        assert gradient == pytest.approx(huber_gradient(expected[entry], **huber), abs=1e-6), entry
