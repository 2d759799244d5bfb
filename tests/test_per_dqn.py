"""The sum and min trees of per_dqn.py, and the sampling and weights they give."""

import operator

import numpy as np
import pytest
import torch
from conftest import load_algorithm

per_dqn = load_algorithm("per_dqn")


def filled_buffer(priorities: np.ndarray, alpha: float, buffer_size: int = 16):
    """A buffer holding one transition per priority, transition i with observation [i]."""
    n = len(priorities)
    rb = per_dqn.PrioritizedReplayBuffer(buffer_size, 1, torch.device("cpu"), 0, alpha, prior_eps=0.0)
    rb.add(np.arange(n)[:, None], np.zeros((n, 1)), np.zeros(n), np.zeros(n), np.zeros(n))
    rb.update_priorities(np.arange(n), priorities)
    return rb


def test_sampling_frequencies_follow_priorities():
    priorities = np.array([0.1, 1.0, 2.0, 0.5, 4.0, 0.05, 3.0, 1.5, 0.8, 2.5])
    alpha = 0.6
    rb = filled_buffer(priorities, alpha)
    draws = np.concatenate([rb.sample(64, beta=1.0)[-1] for _ in range(2_000)])
    counts = np.bincount(draws, minlength=16)
    expected = priorities**alpha / np.sum(priorities**alpha) * len(draws)
    assert counts[len(priorities) :].sum() == 0  # empty slots are never drawn
    # Pearson's chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile
    chi_square = np.sum((counts[: len(priorities)] - expected) ** 2 / expected)
    assert chi_square < 27.9, (counts, expected.round())


def test_updates_keep_the_root_right():
    rng = np.random.default_rng(0)
    sum_tree, min_tree = np.zeros(128), np.full(128, np.inf)  # over 64 leaves
    leaves = np.zeros(64)
    for _ in range(200):
        idx = rng.integers(0, 50, size=rng.integers(1, 20))
        values = rng.random(len(idx)) * 10
        per_dqn.update_tree(sum_tree, idx, values, np.add)
        per_dqn.update_tree(min_tree, idx, values, np.minimum)
        leaves[idx] = values  # with repeated indices the last value wins, in numpy as in the tree
        written = np.unique(np.concatenate([idx, np.flatnonzero(leaves)]))
        assert sum_tree[1] == pytest.approx(leaves.sum())
        assert min_tree[1] == pytest.approx(leaves[written].min())
        # every inner node is the sum of its children
        inner = np.arange(1, 64)
        np.testing.assert_allclose(sum_tree[inner], sum_tree[2 * inner] + sum_tree[2 * inner + 1])


def test_one_leaf_at_a_time_builds_the_same_trees():
    rng = np.random.default_rng(1)
    idx, values = rng.permutation(64)[:40], rng.random(40)
    batched_sum, batched_min = np.zeros(128), np.full(128, np.inf)
    per_dqn.update_tree(batched_sum, idx, values, np.add)
    per_dqn.update_tree(batched_min, idx, values, np.minimum)
    leafwise_sum, leafwise_min = np.zeros(128), np.full(128, np.inf)
    for i, value in zip(idx, values):
        per_dqn.update_leaf(leafwise_sum, i, value, operator.add)
        per_dqn.update_leaf(leafwise_min, i, value, min)
    np.testing.assert_allclose(leafwise_sum, batched_sum)
    np.testing.assert_array_equal(leafwise_min, batched_min)


def test_prefix_sum_search_finds_the_right_leaf():
    sum_tree = np.zeros(16)  # over 8 leaves
    per_dqn.update_tree(sum_tree, np.arange(5), np.array([1.0, 0.0, 2.0, 3.0, 0.5]), np.add)
    prefix = np.array([0.0, 0.99, 1.0, 2.5, 3.0, 5.99, 6.0, 6.4])
    np.testing.assert_array_equal(per_dqn.find_prefix_sum(sum_tree, prefix), [0, 0, 2, 2, 3, 3, 4, 4])


def test_importance_weights_match_the_formula():
    priorities = np.array([0.5, 1.0, 2.0, 4.0, 0.25, 3.0])
    alpha, beta = 0.7, 0.5
    rb = filled_buffer(priorities, alpha)
    obs, *_, weights, idx = rb.sample(32, beta)
    probs = priorities**alpha / np.sum(priorities**alpha)
    expected = (len(priorities) * probs[idx]) ** -beta / (len(priorities) * probs.min()) ** -beta
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(obs[:, 0].numpy(), idx)  # the weights belong to the drawn transitions
    assert weights.max() <= 1.0


def test_new_transitions_enter_at_the_largest_priority():
    rb = filled_buffer(np.array([0.5, 3.0, 1.0]), alpha=1.0)
    rb.add(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), np.zeros(1), np.zeros(1))
    assert rb.sum_tree[rb.capacity + 3] == 3.0
