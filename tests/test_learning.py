"""Regression: with its defaults and a fixed seed, each algorithm solves CartPole-v1 (the files for
continuous actions alone: Pendulum-v1, in a quarter to a half of their budget)."""

import numpy as np
import pytest
from conftest import CONTINUOUS, PIXELS, SHORT_RUNS, load_algorithm

# the env each file is held to, and the final greedy evaluation it must reach there
# (the files for pixels are held to MinAtar's Breakout in tests/test_pixels.py)
TASKS = {
    name: ("Pendulum-v1", -200) if name in CONTINUOUS else ("CartPole-v1", 475)
    for name in SHORT_RUNS
    if name not in PIXELS
}
# Pendulum-v1 has no reward threshold, so its runs never stop when solved: they are held to it after a
# budget past the step where the slowest of seeds 1-20 reached the training window's −200 (a seed on
# another CPU is another run): ddpg's by 6,029 steps, td3's by 8,642, sac's by 7,436 (pendulum_td3_sac);
# seed 1 evaluates −132 (ddpg at 8,000) to −134 (at 10,000)
BUDGETS = {"ddpg": 8_000, "td3": 10_000, "sac": 10_000}


@pytest.mark.parametrize("name", TASKS)
def test_solves_its_task_with_defaults(name):
    algorithm = load_algorithm(name)
    env_id, threshold = TASKS[name]
    args = algorithm.Args(env_id=env_id, seed=1)
    if name in BUDGETS:
        args.total_timesteps = BUDGETS[name]
    summary = algorithm.train(args)
    assert np.mean(summary["eval_returns"]) >= threshold, summary["eval_returns"]
