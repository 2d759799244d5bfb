"""Regression: with its defaults and a fixed seed, each algorithm solves CartPole-v1 (the files for
continuous actions alone: Pendulum-v1, in a third to a half of their budget)."""

import numpy as np
import pytest
from conftest import CONTINUOUS, SHORT_RUNS, load_algorithm

# the env each file is held to, and the final greedy evaluation it must reach there
TASKS = {name: ("Pendulum-v1", -200) if name in CONTINUOUS else ("CartPole-v1", 475) for name in SHORT_RUNS}
# Pendulum-v1 has no reward threshold, so its runs never stop when solved: they are held to it after
# 10,000 steps, half the budget sac's and td3's figure is measured within, a third of ddpg's (on seed 1
# each reaches the training window's −200 by ~6,000 steps, and evaluates −132 to −134 at 10,000)
BUDGETS = dict.fromkeys(CONTINUOUS, 10_000)


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_solves_its_task_with_defaults(name):
    algorithm = load_algorithm(name)
    env_id, threshold = TASKS[name]
    args = algorithm.Args(env_id=env_id, seed=1)
    if name in BUDGETS:
        args.total_timesteps = BUDGETS[name]
    summary = algorithm.train(args)
    assert np.mean(summary["eval_returns"]) >= threshold, summary["eval_returns"]
