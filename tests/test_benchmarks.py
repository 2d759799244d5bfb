"""The benchmark runner reads what a run logged into the figures of the results table."""

import sys
from pathlib import Path

import pytest
import tyro
from conftest import load_algorithm
from torch.utils.tensorboard import SummaryWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import report  # noqa: E402
import run  # noqa: E402


def test_read_run_finds_when_the_last_10_returns_reach_the_threshold(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    # the last 10 returns average 451 after the 24th episode (10 + 9 × 500), 498 after the 25th
    returns = [10.0] * 15 + [500.0] * 9 + [480.0, 500.0, 500.0]
    for i, episode_return in enumerate(returns):
        writer.add_scalar("charts/episodic_return", episode_return, (i + 1) * 100, walltime=1000.0 + i)
    writer.add_scalar("charts/SPS", 1234, 2700)
    for episode_return in (500.0, 480.0):
        writer.add_scalar("eval/episodic_return", episode_return, 2700)
    writer.close()

    result = run.read_run(str(tmp_path), launch=990.0, threshold=475)
    assert result["solved_step"] == 2500
    assert result["solved_seconds"] == pytest.approx(1000.0 + 24 - 990.0)
    assert result["eval_mean"] == 490.0 and result["eval_std"] == 10.0
    assert result["sps"] == 1234 and result["total_steps"] == 2700
    assert len(result["curve"]) == len(returns)


def test_read_run_reports_a_run_that_never_gets_there(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for i in range(30):
        writer.add_scalar("charts/episodic_return", 100.0, i, walltime=1.0 + i)
    writer.add_scalar("charts/SPS", 10, 30)
    writer.add_scalar("eval/episodic_return", 100.0, 30)
    writer.close()
    result = run.read_run(str(tmp_path), launch=0.0, threshold=475)
    assert result["solved_step"] is None and result["solved_seconds"] is None


def test_a_run_is_solved_only_if_its_final_greedy_evaluation_holds_too():
    def run_result(seconds, eval_mean):
        return {
            "returncode": 0,
            "solved_step": None if seconds is None else 1,
            "solved_seconds": seconds,
            "eval_mean": eval_mean,
        }

    runs = [
        run_result(10.0, 500.0),
        run_result(20.0, 420.0),
        run_result(None, 500.0),
        run_result(30.0, 480.0),
    ]
    assert [report.solved(r, 475) for r in runs] == [True, False, False, True]
    # over all four seeds, the two unsolved ranked last: the median lies between 30 and never
    assert report.median_over_all(runs, 475) == "never"
    assert report.median_over_all(runs[:1] + runs[3:] + runs[1:2], 475) == "30.0"


@pytest.mark.parametrize(("algorithm", "env_id"), list(run.HYPERPARAMETERS))
def test_each_documented_setting_is_a_flag_of_its_file(algorithm, env_id):
    # the settings the site's results were measured with: a flag renamed in a file fails here, not in a sweep
    module = load_algorithm(algorithm)
    args = tyro.cli(module.Args, args=["--env-id", env_id, *run.HYPERPARAMETERS[algorithm, env_id]])
    assert args.env_id == env_id
