"""Bad input ends with one line that names the problem, exit status 2, and nothing written."""

import os
import subprocess
import sys

import pytest
from conftest import ALGORITHMS_DIR, SHORT_RUNS


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ALGORITHMS_DIR / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", SHORT_RUNS)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env-id", "Pendulum-v1"], "discrete action space"),
        (["--env-id", "NoSuchEnv-v0"], "NoSuchEnv"),
    ],
    ids=["continuous-actions", "unknown-env"],
)
def test_bad_input_is_one_clear_line(name, args, message):
    result = run_script(name, *args, "--capture-video")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists("runs") and not os.path.exists("videos")
