"""Bad input ends with one line that names the problem and the flag, exit status 2, no traceback,
and nothing written: no run directory that would look like a real run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALGORITHMS_DIR, SHORT_RUNS, load_algorithm

# (arguments, what the error line must say), for every file
CASES = [
    ({"env_id": "NoSuchEnv-v0"}, "--env-id NoSuchEnv-v0"),
    ({"env_id": "Pendulum-v1"}, "discrete action space"),
    ({"env_id": "FrozenLake-v1"}, "flat vectors"),
    ({"learning_rate": 0.0}, "--learning-rate must be positive"),
    ({"learning_rate": -1e-3}, "--learning-rate must be positive"),
    ({"total_timesteps": 0}, "--total-timesteps must be positive"),
    ({"num_envs": -2}, "--num-envs must be positive"),
    ({"resume": "no/such/checkpoint.pt"}, "--resume no/such/checkpoint.pt: no such file"),
]
# and for the files with a replay buffer
REPLAY_CASES = [
    ({"batch_size": 0}, "--batch-size must be positive"),
    ({"buffer_size": -5}, "--buffer-size must be positive"),
    ({"batch_size": 256, "buffer_size": 100}, "--batch-size 256 is larger than --buffer-size 100"),
    ({"learning_starts": 50_000, "total_timesteps": 40_000}, "--learning-starts 50000"),
]
REPLAY_FILES = [name for name in SHORT_RUNS if name.endswith("dqn")]


def assert_refused(algorithm, capsys, message, **args):
    with pytest.raises(SystemExit) as refused:
        algorithm.train(algorithm.Args(**args))
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"{algorithm.__name__}.py: error: "), error
    assert message in error, error
    assert not os.path.exists("runs") and not os.path.exists("videos")


@pytest.mark.parametrize("name", SHORT_RUNS)
@pytest.mark.parametrize(("args", "message"), CASES, ids=[message for _, message in CASES])
def test_bad_argument(name, args, message, capsys):
    assert_refused(load_algorithm(name), capsys, message, **args)


@pytest.mark.parametrize("name", REPLAY_FILES)
@pytest.mark.parametrize(("args", "message"), REPLAY_CASES, ids=[message for _, message in REPLAY_CASES])
def test_bad_replay_argument(name, args, message, capsys):
    assert_refused(load_algorithm(name), capsys, message, **args)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A checkpoint of a short CartPole run of each file."""
    paths = {}
    for name in SHORT_RUNS:
        os.chdir(tmp_path_factory.mktemp(name))
        algorithm = load_algorithm(name)
        summary = algorithm.train(algorithm.Args(save_model=True, **SHORT_RUNS[name] | {"eval_frequency": 0}))
        paths[name] = os.path.abspath(summary["model_path"])
    return paths


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_resume_refuses_a_checkpoint_that_cannot_continue_the_run(name, checkpoints, capsys, tmp_path):
    algorithm = load_algorithm(name)
    os.chdir(tmp_path)
    Path("corrupt.pt").write_bytes(Path(checkpoints[name]).read_bytes()[:1000])  # a write cut short
    assert_refused(algorithm, capsys, "not a readable checkpoint", resume="corrupt.pt")

    other = "reinforce" if name != "reinforce" else "dqn"
    assert_refused(
        algorithm, capsys, f"the checkpoint is of {other}, not of {name}", resume=checkpoints[other]
    )
    assert_refused(
        algorithm,
        capsys,
        "has --env-id CartPole-v1, not Acrobot-v1",
        env_id="Acrobot-v1",
        resume=checkpoints[name],
    )
    assert_refused(algorithm, capsys, "the run is complete", **SHORT_RUNS[name], resume=checkpoints[name])


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_bad_input_from_the_command_line(name):
    """The same, for real: a process of its own, its exit status, and what it prints."""
    result = subprocess.run(
        [sys.executable, str(ALGORITHMS_DIR / f"{name}.py"), "--env-id", "Pendulum-v1", "--capture-video"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "discrete action space" in result.stderr, result.stderr
    assert result.stdout == ""
    assert not os.path.exists("runs") and not os.path.exists("videos")
