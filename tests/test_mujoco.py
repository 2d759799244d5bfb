"""The MuJoCo tasks, where the mujoco extra is installed (`pip install -e ".[mujoco]"`): sac.py and td3.py
run on them, a checkpoint keeps no env state that would come back wrong, and --capture-video renders
headless with MUJOCO_GL=egl or is refused in one line without it."""

import os
import subprocess
import sys
from importlib.util import find_spec

import pytest
import torch
from conftest import ALGORITHMS_DIR, load_algorithm

pytestmark = pytest.mark.skipif(find_spec("mujoco") is None, reason='needs pip install -e ".[mujoco]"')

SHORT_RUN = dict(total_timesteps=600, learning_starts=300, eval_episodes=1, save_model=True)


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_runs_on_hopper_and_keeps_no_env_state_that_would_come_back_wrong(name):
    # MuJoCo's envs pickle the arguments they were made with, not their state: unpickled, a Hopper stands
    # in its first pose, whatever the observation the loop holds. The checkpoint keeps no envs, and a
    # resumed run starts new episodes, as it says.
    algorithm = load_algorithm(name)
    summary = algorithm.train(algorithm.Args(env_id="Hopper-v5", seed=1, **SHORT_RUN))
    assert len(summary["eval_returns"]) == 1 and all(
        map(torch.isfinite, torch.tensor(summary["eval_returns"]))
    )
    checkpoint = torch.load(summary["model_path"], weights_only=True)
    assert checkpoint["envs"] is None
    # --evaluate checks the checkpoint's env, Hopper, not the default Pendulum: without a display it
    # cannot record video, and says so in one line
    env = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "DISPLAY")}
    command = [sys.executable, str(ALGORITHMS_DIR / f"{name}.py"), "--evaluate", summary["model_path"]]
    result = subprocess.run([*command, "--capture-video"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--capture-video: Hopper-v5 cannot render here" in result.stderr.strip().splitlines()[-1]


def run_with_video(name: str, mujoco_gl: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "DISPLAY")}
    if mujoco_gl:
        env["MUJOCO_GL"] = mujoco_gl
    command = [sys.executable, str(ALGORITHMS_DIR / f"{name}.py"), "--env-id", "InvertedPendulum-v5"]
    command += [
        "--total-timesteps",
        "400",
        "--learning-starts",
        "200",
        "--eval-episodes",
        "1",
        "--capture-video",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def test_capture_video_without_a_display_is_refused_in_one_line():
    result = run_with_video("td3", mujoco_gl=None)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "td3.py: error: --capture-video: InvertedPendulum-v5 cannot render here (FatalError); "
        "without a display, MuJoCo renders with MUJOCO_GL=egl"
    )


def test_capture_video_renders_headless_with_egl(tmp_path):
    result = run_with_video("sac", mujoco_gl="egl")
    assert result.returncode == 0, result.stderr[-2000:]
    videos = list((tmp_path / "videos").rglob("*.mp4"))
    assert videos and all(video.stat().st_size > 0 for video in videos)
