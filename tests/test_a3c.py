"""a3c.py's workers: one Adam state shared by all of them, and no worker left behind, however the
main process ends: Ctrl-C to the whole terminal, or a kill that gives it no chance to stop them."""

import os
import signal
import subprocess
import sys
import time

import gymnasium as gym
import pytest
import torch
from conftest import ALGORITHMS_DIR, load_algorithm
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:  # it ended while we looked
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start(*args: str) -> subprocess.Popen:
    """a3c.py in a session of its own, as from a terminal, once its workers are running."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(ALGORITHMS_DIR / "a3c.py"), "--num-workers", "2", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in process.stdout:  # the first progress line: the workers are learning
        if line.startswith("step"):
            return process
    raise AssertionError(f"a3c.py ended before its first progress line: {process.wait()}")


def workers_of(process: subprocess.Popen) -> list[int]:
    # spawn starts a resource tracker beside the workers; the workers are the children running a3c's code
    return [pid for pid in children(process.pid) if "spawn_main" in open(f"/proc/{pid}/cmdline").read()]


def wait_until_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.time() + seconds
    while any(alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


def test_ctrl_c_stops_every_worker_and_leaves_a_checkpoint():
    run = start("--total-timesteps", "1000000", "--no-stop-when-solved", "--save-model")
    workers = workers_of(run)
    assert len(workers) == 2
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: every process of the terminal's group gets it
    output = run.stdout.read()
    assert run.wait(timeout=60) == 128 + signal.SIGINT, output
    assert wait_until_gone(workers, 5) == []
    checkpoint = torch.load(output.split("--resume ")[-1].strip(), weights_only=False)
    assert checkpoint["algorithm"] == "a3c" and checkpoint["global_step"] > 0


def test_workers_end_when_the_main_process_is_killed():
    run = start("--total-timesteps", "1000000", "--no-stop-when-solved")
    workers = workers_of(run)
    assert len(workers) == 2
    run.kill()  # SIGKILL: the main process cannot stop them
    run.wait()
    assert wait_until_gone(workers, 15) == []


def test_the_workers_share_one_adam_state_also_after_a_resume():
    a3c = load_algorithm("a3c")
    settings = dict(seed=1, num_workers=2, num_envs=2, num_steps=8, save_model=True, stop_when_solved=False)

    def optimizer_steps(summary, total_timesteps):
        checkpoint = torch.load(summary["model_path"], weights_only=False)
        # every rollout of either worker ends in one step of the one optimizer: its count is theirs together
        rollouts = checkpoint["global_step"] // (settings["num_envs"] * settings["num_steps"])
        assert checkpoint["global_step"] >= total_timesteps
        states = checkpoint["optimizer"]["state"].values()
        assert len(states) == len(checkpoint["agent"])  # one per parameter
        assert all(state["step"] == rollouts for state in states)
        return rollouts

    first = a3c.train(a3c.Args(total_timesteps=2_048, **settings))
    before = optimizer_steps(first, 2_048)
    # the resumed workers step the checkpoint's Adam state on, shared again
    resumed = a3c.train(a3c.Args(total_timesteps=4_096, resume=first["model_path"], **settings))
    assert optimizer_steps(resumed, 4_096) > before


class BreaksAfterSomeSteps(CartPoleEnv):
    """CartPole whose step raises after 300 steps of one copy: a worker that dies of an error."""

    def step(self, action):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps > 300:
            raise RuntimeError("the env broke")
        return super().step(action)


gym.register("BreaksAfterSomeSteps-v0", entry_point=BreaksAfterSomeSteps, max_episode_steps=500)


def test_a_worker_that_dies_ends_the_run_with_an_error():
    a3c = load_algorithm("a3c")
    args = a3c.Args(env_id="BreaksAfterSomeSteps-v0", num_workers=2, num_envs=1, total_timesteps=100_000)
    with pytest.raises(SystemExit) as ended:
        a3c.train(args)
    assert "a3c.py: error: worker" in str(ended.value.code) and "died" in str(ended.value.code)
