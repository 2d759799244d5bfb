"""Regression: with its defaults and a fixed seed, each algorithm solves CartPole-v1."""

import numpy as np
import pytest
from conftest import SHORT_RUNS, load_algorithm


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_solves_cartpole_with_defaults(name):
    algorithm = load_algorithm(name)
    summary = algorithm.train(algorithm.Args(env_id="CartPole-v1", seed=1))
    assert np.mean(summary["eval_returns"]) >= 475, summary["eval_returns"]
