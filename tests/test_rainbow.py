"""rainbow.py: its n-step transitions at both kinds of episode end, built by hand, and with every
component switched off, dqn.py's run."""

import functools
import glob

import numpy as np
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
    dqn_weights = torch.load(dqn_run["model_path"], weights_only=False)["q_network"].values()
    rainbow_weights = torch.load(rainbow_run["model_path"], weights_only=False)["q_network"].values()
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
