"""Regression: with its defaults and a fixed seed, each algorithm solves CartPole-v1 (the files for
continuous actions alone: Pendulum-v1)."""

import numpy as np
import pytest
from conftest import CONTINUOUS, SHORT_RUNS, load_algorithm

# the env each file is held to, and the final greedy evaluation it must reach there
TASKS = {name: ("Pendulum-v1", -200) if name in CONTINUOUS else ("CartPole-v1", 475) for name in SHORT_RUNS}


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_solves_its_task_with_defaults(name):
    algorithm = load_algorithm(name)
    env_id, threshold = TASKS[name]
    summary = algorithm.train(algorithm.Args(env_id=env_id, seed=1))
    assert np.mean(summary["eval_returns"]) >= threshold, summary["eval_returns"]
