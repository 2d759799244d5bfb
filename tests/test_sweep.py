"""Sweeps and tuning on Ray (the [sweep] extra): a two-run sweep of benchmarks/run.py in Ray mode and a
two-trial study of benchmarks/tune.py, cut short and resumed, each on a Ray started inside the command,
with tiny budgets."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.tune", reason="the [sweep] extra is not installed")
pytest.importorskip("optuna", reason="the [sweep] extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import tune  # noqa: E402


def launch(script: str, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_a_sweep_in_ray_mode_writes_a_row_per_run_and_resumes(tmp_path):
    out = tmp_path / "sweep.jsonl"
    command = ["--ray", "--algorithms", "dqn", "--seeds", "1", "2", "--out", str(out), "--", "--total-timesteps", "1500"]  # fmt: skip
    launch("run.py", *command)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["seed"] for r in rows) == [1, 2]
    for r in rows:
        assert r["returncode"] == 0, r.get("error")
        assert r["settings"] == "--total-timesteps 1500"
        assert r["total_steps"] == 1500  # the final evaluation, at the end of the budget
        assert np.isfinite(r["eval_mean"]) and r["curve"]
        assert r["machine"]["workers"] >= 1 and "--ray" in r["command"]
    # the same command again finds both runs done
    assert "0 runs to do (2 already" in launch("run.py", *command)


@pytest.mark.slow  # a minute of Ray and Optuna: the sweep's own test above keeps Ray in the default suite
def test_a_two_trial_study_cut_short_and_resumed_writes_each_trial_and_the_best_command(tmp_path):
    out, storage = tmp_path / "study.jsonl", tmp_path / "tune"
    command = [
        sys.executable, str(ROOT / "benchmarks" / "tune.py"), "--algorithm", "dqn", "--env-id", "CartPole-v1",
        "--seeds", "1", "2", "3", "--trials", "2", "--out", str(out), "--storage-path", str(storage), "--",
        "--total-timesteps", "2000",
    ]  # fmt: skip
    study = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # cut it once a trial has finished seed 1 (its checkpoint) and begun seed 2, as Ctrl-C would: a trial
    # goes on from a report only when Tune has taken it in, so that the study's state knows the
    # checkpoint (cut between the two, a resumed study runs seed 1 again); seed 3 is there so that
    # the trial cannot end while Tune shuts down
    deadline = time.monotonic() + 300
    while not (
        checkpointed := [c for c in storage.glob("*/trial_*/checkpoint_*") if (c.parent / "seed_2").exists()]
    ):
        assert study.poll() is None and time.monotonic() < deadline, study.stdout.read()[-3000:]
        time.sleep(0.5)
    study.send_signal(signal.SIGINT)
    study.communicate(timeout=300)
    first_logs = {
        path: path.stat().st_mtime_ns for path in (c.parent / "seed_1" / "output.log" for c in checkpointed)
    }
    assert len(out.read_text().splitlines() if out.exists() else []) < 2  # not every trial had ended

    (directory,) = storage.iterdir()
    stdout = launch("tune.py", "--resume", os.path.relpath(directory))  # a relative path, as a user types it
    assert all(path.stat().st_mtime_ns == ended for path, ended in first_logs.items())  # not run again
    trials = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(trials) == 2
    assert trials[0]["config"] != trials[1]["config"]
    finished = [t for t in trials if not t["stopped_early"]]
    # ASHA lets the first trial to reach each of its milestones go on, so one at least finishes
    assert finished
    for t in trials:
        assert set(t["config"]) == set(tune.SEARCH_SPACES["dqn"])
        assert t["settings"] == "--total-timesteps 2000 --eval-frequency 200"
    for t in finished:
        assert t["env_steps"] == 3 * 2000
        assert [r["seed"] for r in t["runs"]] == [1, 2, 3]
        # the runs were launched with the trial's settings, and their final evaluations make its score
        for flag, value in t["config"].items():
            assert f"{flag} {value}" in t["runs"][0]["settings"]
        assert t["finals"] == [r["eval_mean"] for r in t["runs"]]
        assert t["objective"] == "worst" and t["score"] == pytest.approx(
            tune.score(t["finals"], "worst", 475)
        )
    best = max(finished, key=lambda t: t["score"])
    assert "2 trials (best first)" in stdout
    assert "python algorithms/dqn.py --env-id CartPole-v1 --total-timesteps 2000" in stdout
    assert f"--batch-size {best['config']['--batch-size']}" in stdout.split("the best, as a command:")[1]


def test_a_trial_scores_its_worst_seed_clipped_at_the_threshold_or_the_mean():
    # every seed at or above the threshold: the trials tie, whatever their worst seed's margin
    assert tune.score([251.5, 248.4], "worst", 200) == tune.score([212.0, 300.0], "worst", 200) == 200
    assert tune.score([251.5, 139.7], "worst", 200) == pytest.approx(139.7)
    assert tune.score([251.5, 139.7], "mean", 200) == pytest.approx(195.6)
    assert tune.score([-150.0], "worst", float("inf")) == -150.0  # an env without a threshold


def test_a_trial_scores_a_run_under_way_by_its_evaluation_until_a_seed_has_finished():
    assert tune.running_score([], -120.0, "worst", 200) == -120.0
    # then a later seed's early evaluation (a run barely begun) leaves the finished seeds' score alone
    assert tune.running_score([231.0], -17.0, "worst", 200) == 200
    assert tune.running_score([231.0, 139.7], -17.0, "mean", 200) == pytest.approx(185.35)


def test_flags_read_a_command_line_as_run_py_writes_it():
    settings = ["--total-timesteps", "500", "--cuda", "--learning-rate", "1e-3", "--gamma", "-1"]
    assert tune.flags(settings) == {
        "--total-timesteps": "500",
        "--cuda": None,
        "--learning-rate": "1e-3",
        "--gamma": "-1",
    }
    assert tune.command_line(tune.flags(settings)) == settings
    # a later flag replaces an earlier one, as the trial's settings replace the environment's
    assert tune.flags(["--tau", "0.1", "--tau", "0.2"]) == {"--tau": "0.2"}


def test_evaluations_are_read_from_a_run_s_output(tmp_path):
    log = tmp_path / "output.log"
    log.write_text(
        "step     1,000  return (last 10)    21.0  ε 0.05  SPS 1,234\n"
        "step     1,500  greedy evaluation 123.4 ± 5.6\n"
        "step     3,000  greedy evaluation -20.5 ± 1.0\n"
    )
    assert tune.evaluations(log) == [(1500, 123.4), (3000, -20.5)]
    assert tune.evaluations(tmp_path / "not yet written.log") == []
