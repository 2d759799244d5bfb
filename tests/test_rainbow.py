"""rainbow.py: its n-step transitions at both kinds of episode end, built by hand; with every component
switched off, dqn.py's run; and its learning step by hand: the double target projected on the atoms,
the cross-entropy weighted by importance, the priority the KL divergence (tests/probes.py)."""

import functools
import glob
import math

import numpy as np
import probes
import pytest
import torch
from conftest import DQN_SHORT_RUN, load_algorithm
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

rainbow = load_algorithm("rainbow")
GAMMA = 0.5


def play(n_step, rewards, end):
    """One env through an episode with these rewards, which ends with `end` ("terminated" or
    "truncated"), then the reset step; observation t is [t]. All the transitions, in order."""
    transitions = []
    no, yes = np.zeros(1, dtype=bool), np.ones(1, dtype=bool)
    for t, reward in enumerate(rewards):
        last = t == len(rewards) - 1
        terminated, truncated = (
            (yes if last and end == "terminated" else no),
            (yes if last and end == "truncated" else no),
        )
        out = n_step.step(
            np.array([[t]]),
            np.array([t % 2]),
            np.array([reward]),
            np.array([[t + 1]]),
            terminated,
            truncated,
            no,
        )
        transitions += [] if out is None else list(zip(*out))
    # the step after the end only resets the env: no transition, whatever it is given
    assert n_step.step(np.array([[99]]), np.array([0]), np.array([0.0]), np.array([[0]]), no, no, yes) is None
    return [(int(s[0]), int(s_next[0]), int(a), float(R), float(g)) for s, s_next, a, R, g in transitions]


def test_n_step_returns_stop_at_a_termination_without_bootstrap():
    n_step = rainbow.NStepReturns(n=3, gamma=GAMMA, num_envs=1)
    transitions = play(n_step, [1.0, 2.0, 4.0, 8.0, 16.0], "terminated")
    assert transitions == [
        # (s, s', a, R, g): three steps ahead while the episode lasts, g = γ³
        (0, 3, 0, 1 + 0.5 * 2 + 0.25 * 4, 0.125),
        (1, 4, 1, 2 + 0.5 * 4 + 0.25 * 8, 0.125),
        (2, 5, 0, 4 + 0.5 * 8 + 0.25 * 16, 0.0),  # its third step terminates: no bootstrap
        # the last two transitions, stored with the steps they have, none bootstrapping
        (3, 5, 1, 8 + 0.5 * 16, 0.0),
        (4, 5, 0, 16.0, 0.0),
    ]


def test_n_step_returns_at_a_truncation_bootstrap_from_where_the_episode_was_cut():
    n_step = rainbow.NStepReturns(n=3, gamma=GAMMA, num_envs=1)
    transitions = play(n_step, [1.0, 2.0, 4.0, 8.0], "truncated")
    assert transitions == [
        (0, 3, 0, 1 + 0.5 * 2 + 0.25 * 4, 0.125),
        (1, 4, 1, 2 + 0.5 * 4 + 0.25 * 8, 0.125),
        # s' = 4, the state where the episode was cut, with γ to the power of the steps taken
        (2, 4, 0, 4 + 0.5 * 8, 0.25),
        (3, 4, 1, 8.0, 0.5),
    ]


def test_an_episode_shorter_than_n_and_the_next_one_stay_apart():
    n_step = rainbow.NStepReturns(n=3, gamma=GAMMA, num_envs=1)
    assert play(n_step, [1.0, 2.0], "terminated") == [(0, 2, 0, 2.0, 0.0), (1, 2, 1, 2.0, 0.0)]
    # nothing of the first episode is left to leak into the second
    assert play(n_step, [4.0], "terminated") == [(0, 1, 0, 4.0, 0.0)]


def test_one_step_transitions_are_dqns():
    n_step = rainbow.NStepReturns(n=1, gamma=GAMMA, num_envs=1)
    assert play(n_step, [1.0, 2.0], "terminated") == [(0, 1, 0, 1.0, 0.5), (1, 2, 1, 2.0, 0.0)]


def logged(exp_name: str, tag: str):
    run_dir = glob.glob(f"runs/*__{exp_name}__1__*")[0]
    events = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_with_every_component_off_it_is_dqn():
    settings = DQN_SHORT_RUN | dict(seed=1, save_model=True, total_timesteps=3_000)
    off = dict(double=False, prioritized=False, dueling=False, n_step=1, noisy=False, distributional=False)
    dqn = load_algorithm("dqn")
    dqn_run = dqn.train(dqn.Args(exp_name="dqn", **settings))
    rainbow_run = rainbow.train(rainbow.Args(exp_name="off", **settings, **off))

    assert rainbow_run["eval_returns"] == dqn_run["eval_returns"]
    assert logged("off", "charts/episodic_return") == logged("dqn", "charts/episodic_return")
    assert logged("off", "losses/loss") == logged("dqn", "losses/td_loss")
    dqn_weights = torch.load(dqn_run["model_path"], weights_only=True)["q_network"].values()
    rainbow_weights = torch.load(rainbow_run["model_path"], weights_only=True)["q_network"].values()
    assert len(dqn_weights) == len(rainbow_weights)
    for ours, theirs in zip(rainbow_weights, dqn_weights):
        assert torch.equal(ours, theirs)


@functools.cache
def dqn_losses(total_timesteps: int):
    """The losses dqn.py logs in a short run on seed 1: run once per test process."""
    dqn = load_algorithm("dqn")
    dqn.train(dqn.Args(exp_name="dqn", **(DQN_SHORT_RUN | dict(seed=1, total_timesteps=total_timesteps))))
    return logged("dqn", "losses/td_loss")


@pytest.mark.parametrize(
    "component", ["double", "prioritized", "dueling", "n_step", "noisy", "distributional"]
)
def test_each_component_changes_the_run(component):
    # the converse: switching on any one of them alone makes another run than dqn.py's
    off = dict(double=False, prioritized=False, dueling=False, n_step=1, noisy=False, distributional=False)
    on = {component: 3 if component == "n_step" else True}
    settings = DQN_SHORT_RUN | dict(seed=1, total_timesteps=1_500)
    rainbow.train(rainbow.Args(exp_name="one", **settings, **(off | on)))
    assert logged("one", "losses/loss") != dqn_losses(1_500)


# The learning step, by hand, on the chain of probes.py with the probabilities P and P_TARGET there and
# γ = 0.5, acting at random. One-step targets: from state 0 (r = 1, on to state 1, g = γ) the online
# network chooses a* = 1 (double Q-learning; the target network would choose 0) and the target network's
# distribution there, half on z = 0 and half on z = 2, moves to T z = 1 + 0.5 z = 1 and 2:
# m = (0, 0.5, 0.5, 0). From state 1 (r = 2) the episode terminates: m is all on z = 2. Three-step targets
# on the same chain: from state 0, R = 1 + 0.5 · 2 = 2 and the episode terminates within the three steps,
# g = 0: m all on z = 2, as from state 1. Cut by a time limit in state 1, the three-step transition from
# state 0 is one step long and bootstraps, g = γ: as the one-step target.
SPLIT, ON_2 = [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]
TARGETS = {
    ("Chain-v0", 1): {0: SPLIT, 1: ON_2},
    ("Chain-v0", 3): {0: ON_2, 1: ON_2},
    ("ChainCut-v0", 3): {0: SPLIT},
}


@pytest.mark.parametrize(("env_id", "n_step"), TARGETS)
def test_each_update_learns_the_weighted_cross_entropy_and_prioritizes_by_the_kl(monkeypatch, env_id, n_step):
    online, target = probes.logits(probes.P, -30), probes.logits(probes.P_TARGET, -1e4)
    probes.q_tables(rainbow, monkeypatch, online, target, atoms=probes.ATOMS)
    optimizer = probes.recording_adam(monkeypatch)
    buffers = probes.recording_buffer(rainbow, monkeypatch, "PrioritizedReplayBuffer")
    settings = dict(n_step=n_step, n_atoms=4, v_min=0.0, v_max=3.0, noisy=False, start_e=1.0, end_e=1.0)
    rainbow.train(rainbow.Args(env_id=env_id, **probes.REPLAY_PROBE, **settings))
    rb, targets = buffers[0], TARGETS[env_id, n_step]
    updates = probes.distribution_updates(optimizer[0], rb)
    assert len(updates) > 30 and {state for (state, _), _ in updates} == set(targets)
    weights = [float(batch[5][0]) for batch in rb.batches]
    assert min(weights) < 0.9  # once the priorities differ, so do the importance weights
    for ((state, action), gradient), weight, (_, kl) in zip(
        updates, weights, rb.priority_updates, strict=True
    ):
        p, m = torch.softmax(torch.tensor(online[state][action]), dim=0), torch.tensor(targets[state])
        # the loss w Σ −m log p: its gradient with respect to the logits w (p − m)
        torch.testing.assert_close(gradient, weight * (p - m), msg=str((state, action)))
        # the priority: KL(m ‖ p) = Σ m log(m / p), over the atoms where m > 0
        expected = float((m[m > 0] * (m[m > 0] / p[m > 0]).log()).sum())
        assert kl[0] == pytest.approx(expected, abs=1e-5), (state, action)


def test_the_prediction_equal_to_its_target_has_the_smallest_priority(monkeypatch):
    # one-step targets, as above. By hand, KL(m ‖ p): in state 0 action 0 the prediction is m itself
    # (but for e^−30 on z = 0 and z = 3), KL 0; action 1 predicts uniformly, KL = log 2; in state 1, with
    # m all on z = 2, KL = −log p(z = 2): log 30 for action 0, −log 0.9 for action 1. The cross-entropy
    # would rank them otherwise: it adds the entropy of m, log 2 in state 0, so that state 0 action 0
    # (0.69) would come before state 1 action 1 (0.11).
    online, target = probes.logits(probes.P, -30), probes.logits(probes.P_TARGET, -1e4)
    probes.q_tables(rainbow, monkeypatch, online, target, atoms=probes.ATOMS)
    buffers = probes.recording_buffer(rainbow, monkeypatch, "PrioritizedReplayBuffer")
    settings = dict(n_step=1, n_atoms=4, v_min=0.0, v_max=3.0, noisy=False, start_e=1.0, end_e=1.0)
    rainbow.train(rainbow.Args(env_id="Chain-v0", **probes.REPLAY_PROBE, **settings))
    rb = buffers[0]
    priorities = {
        (int(rb.obs[idx[0]].argmax()), int(rb.actions[idx[0]])): float(kl[0])
        for idx, kl in rb.priority_updates
    }
    expected = {(0, 0): 0.0, (0, 1): math.log(2), (1, 0): math.log(30), (1, 1): -math.log(0.9)}
    assert priorities == pytest.approx(expected, abs=1e-5)


# Without the distribution (--no-distributional): Q and the Huber loss, on the tables Q and Q_TARGET of
# probes.py, one-step targets, γ = 0.5. From state 0 the online network chooses a* = 1 (2.5 > 1.6), the
# target network values it: y = 1 + 0.5 · 1.5 = 1.75; from state 1, y = 2 (terminated). The gradient of
# w Huber_κ(δ) is w δ within κ and ±w κ beyond, and the priority is the Huber loss: δ² / 2 within κ,
# κ (|δ| − κ / 2) beyond.
TD_ERRORS = {(0, 0): 1.5 - 1.75, (0, 1): 1.2 - 1.75, (1, 0): 1.6 - 2.0, (1, 1): 2.5 - 2.0}


@probes.HUBER
def test_without_the_distribution_each_update_learns_the_weighted_double_td_error(monkeypatch, huber):
    probes.q_tables(rainbow, monkeypatch, probes.Q, probes.Q_TARGET)
    optimizer = probes.recording_adam(monkeypatch)
    buffers = probes.recording_buffer(rainbow, monkeypatch, "PrioritizedReplayBuffer")
    settings = dict(n_step=1, distributional=False, noisy=False, start_e=1.0, end_e=1.0) | huber
    kappa = huber.get("huber_delta", rainbow.Args.huber_delta)
    rainbow.train(rainbow.Args(env_id="Chain-v0", **probes.REPLAY_PROBE, **settings))
    rb = buffers[0]
    updates = probes.learned_from(optimizer[0])
    assert len(updates) > 30 and {entry for entry, _ in updates} == set(TD_ERRORS)
    for (entry, gradient), batch, (_, loss) in zip(updates, rb.batches, rb.priority_updates, strict=True):
        weight = float(batch[5][0])
        td_error = TD_ERRORS[entry]
        assert gradient == pytest.approx(weight * probes.huber_gradient(td_error, kappa), abs=1e-6), entry
        huber_loss = td_error**2 / 2 if abs(td_error) <= kappa else kappa * (abs(td_error) - kappa / 2)
        assert loss[0] == pytest.approx(huber_loss, abs=1e-6), entry
