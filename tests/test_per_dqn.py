"""The sum and min trees of per_dqn.py, and the sampling and weights they give, and the same of
rainbow.py's copy of them; per_dqn.py's learning step, by hand (rainbow.py's is in tests/test_rainbow.py)."""

import operator

import numpy as np
import pytest
import torch
from conftest import load_algorithm
from probes import (
    HUBER,
    Q_TARGET,
    REPLAY_PROBE,
    Q,
    huber_gradient,
    learned_from,
    q_tables,
    recording_adam,
    recording_buffer,
)

per_dqn = load_algorithm("per_dqn")
# the files with these trees and buffer: rainbow.py's buffer can also be uniform, and is prioritized here
BUFFERS = ["per_dqn", "rainbow"]


def filled_buffer(name: str, priorities: np.ndarray, alpha: float, buffer_size: int = 16):
    """A buffer of `name`.py holding one transition per priority, transition i with observation [i]."""
    n = len(priorities)
    module, cpu = load_algorithm(name), torch.device("cpu")
    prioritized = (True,) if name == "rainbow" else ()
    rb = module.PrioritizedReplayBuffer(buffer_size, 1, cpu, 0, *prioritized, alpha, prior_eps=0.0)
    rb.add(np.arange(n)[:, None], np.zeros((n, 1)), np.zeros(n), np.zeros(n), np.zeros(n))
    rb.update_priorities(np.arange(n), priorities)
    return rb


@pytest.mark.parametrize("name", BUFFERS)
def test_sampling_frequencies_follow_priorities(name):
    priorities = np.array([0.1, 1.0, 2.0, 0.5, 4.0, 0.05, 3.0, 1.5, 0.8, 2.5])
    alpha = 0.6
    rb = filled_buffer(name, priorities, alpha)
    draws = np.concatenate([rb.sample(64, beta=1.0)[-1] for _ in range(2_000)])
    counts = np.bincount(draws, minlength=16)
    expected = priorities**alpha / np.sum(priorities**alpha) * len(draws)
    assert counts[len(priorities) :].sum() == 0  # empty slots are never drawn
    # Pearson's chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile
    chi_square = np.sum((counts[: len(priorities)] - expected) ** 2 / expected)
    assert chi_square < 27.9, (counts, expected.round())


@pytest.mark.parametrize("name", BUFFERS)
def test_updates_keep_the_root_right(name):
    module = load_algorithm(name)
    rng = np.random.default_rng(0)
    sum_tree, min_tree = np.zeros(128), np.full(128, np.inf)  # over 64 leaves
    leaves = np.zeros(64)
    for _ in range(200):
        idx = rng.integers(0, 50, size=rng.integers(1, 20))
        values = rng.random(len(idx)) * 10
        module.update_tree(sum_tree, idx, values, np.add)
        module.update_tree(min_tree, idx, values, np.minimum)
        leaves[idx] = values  # with repeated indices the last value wins, in numpy as in the tree
        written = np.unique(np.concatenate([idx, np.flatnonzero(leaves)]))
        assert sum_tree[1] == pytest.approx(leaves.sum())
        assert min_tree[1] == pytest.approx(leaves[written].min())
        # every inner node is the sum of its children
        inner = np.arange(1, 64)
        np.testing.assert_allclose(sum_tree[inner], sum_tree[2 * inner] + sum_tree[2 * inner + 1])


@pytest.mark.parametrize("name", BUFFERS)
def test_one_leaf_at_a_time_builds_the_same_trees(name):
    module = load_algorithm(name)
    rng = np.random.default_rng(1)
    idx, values = rng.permutation(64)[:40], rng.random(40)
    batched_sum, batched_min = np.zeros(128), np.full(128, np.inf)
    module.update_tree(batched_sum, idx, values, np.add)
    module.update_tree(batched_min, idx, values, np.minimum)
    leafwise_sum, leafwise_min = np.zeros(128), np.full(128, np.inf)
    for i, value in zip(idx, values):
        module.update_leaf(leafwise_sum, i, value, operator.add)
        module.update_leaf(leafwise_min, i, value, min)
    np.testing.assert_allclose(leafwise_sum, batched_sum)
    np.testing.assert_array_equal(leafwise_min, batched_min)


@pytest.mark.parametrize("name", BUFFERS)
def test_prefix_sum_search_finds_the_right_leaf(name):
    module = load_algorithm(name)
    sum_tree = np.zeros(16)  # over 8 leaves
    module.update_tree(sum_tree, np.arange(5), np.array([1.0, 0.0, 2.0, 3.0, 0.5]), np.add)
    prefix = np.array([0.0, 0.99, 1.0, 2.5, 3.0, 5.99, 6.0, 6.4])
    np.testing.assert_array_equal(module.find_prefix_sum(sum_tree, prefix), [0, 0, 2, 2, 3, 3, 4, 4])


@pytest.mark.parametrize("name", BUFFERS)
def test_importance_weights_match_the_formula(name):
    priorities = np.array([0.5, 1.0, 2.0, 4.0, 0.25, 3.0])
    alpha, beta = 0.7, 0.5
    rb = filled_buffer(name, priorities, alpha)
    obs, *_, weights, idx = rb.sample(32, beta)
    probs = priorities**alpha / np.sum(priorities**alpha)
    expected = (len(priorities) * probs[idx]) ** -beta / (len(priorities) * probs.min()) ** -beta
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(obs[:, 0].numpy(), idx)  # the weights belong to the drawn transitions
    assert weights.max() <= 1.0


@pytest.mark.parametrize("name", BUFFERS)
def test_new_transitions_enter_at_the_largest_priority(name):
    rb = filled_buffer(name, np.array([0.5, 3.0, 1.0]), alpha=1.0)
    rb.add(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), np.zeros(1), np.zeros(1))
    assert rb.sum_tree[rb.capacity + 3] == 3.0


# The learning step, by hand, as tests/test_dqn.py's: the tables Q and Q_TARGET of probes.py, γ = 0.5,
# the TD errors δ = Q(s, a) − y with y = 1 + 0.5 · 1.8 from state 0 and y = 2 (terminated) from state 1.
TD_ERRORS = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9, (1, 0): 1.6 - 2.0, (1, 1): 2.5 - 2.0}


@HUBER
def test_each_update_learns_its_weighted_td_error_and_makes_it_the_priority(monkeypatch, huber):
    q_tables(per_dqn, monkeypatch, Q, Q_TARGET)
    optimizer = recording_adam(monkeypatch)
    buffers = recording_buffer(per_dqn, monkeypatch, "PrioritizedReplayBuffer")
    per_dqn.train(per_dqn.Args(env_id="Chain-v0", **REPLAY_PROBE, start_e=1.0, end_e=1.0, **huber))
    rb = buffers[0]
    updates = learned_from(optimizer[0])
    assert len(updates) > 30 and {entry for entry, _ in updates} == set(TD_ERRORS)
    weights = [float(batch[5][0]) for batch in rb.batches]
    assert min(weights) < 0.9  # once the priorities differ, so do the weights
    for (entry, gradient), weight, (idx, errors) in zip(updates, weights, rb.priority_updates):
        # the loss is w_i Huber_κ(δ_i): its gradient w_i δ_i within κ, ±w_i κ beyond
        assert gradient == pytest.approx(weight * huber_gradient(TD_ERRORS[entry], **huber), abs=1e-6), entry
        # the transition learned from is the one whose priority is updated, to p_i = |δ_i| + ε
        assert (int(rb.obs[idx[0]].argmax()), int(rb.actions[idx[0]])) == entry
        assert abs(errors[0]) == pytest.approx(abs(TD_ERRORS[entry]), abs=1e-6)
    # in the sum tree, each transition's last priority, to the power α
    last = {int(idx[0]): abs(float(errors[0])) for idx, errors in rb.priority_updates}
    for i, priority in last.items():
        assert rb.sum_tree[rb.capacity + i] == pytest.approx((priority + rb.prior_eps) ** rb.alpha, rel=1e-6)
