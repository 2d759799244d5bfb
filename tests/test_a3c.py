"""a3c.py's workers: one Adam state shared by all of them, and no worker left behind, however the
main process ends: Ctrl-C to the whole terminal, or a kill that gives it no chance to stop them; a
resumed run's workers play new episodes. And a worker's learning step, by hand: a3c.py's `worker`, run
in this process as the only one, on the chain (tests/probes.py) with tables for the network, learns as
a2c.py does (tests/test_a2c.py works out the gradients), on two action dimensions too, at the shared
parameters as they are; with a3c.py's own network, it learns the shared log σ."""

import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import gymnasium as gym
import numpy as np
import probes
import pytest
import torch
from conftest import ALGORITHMS_DIR, load_algorithm
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from test_a2c import (
    BETA,
    C_V,
    CASES,
    LOGITS,
    MEANS,
    ONE_STEP,
    PLANE,
    PLANE_LAMBDA,
    PLANE_MEANS,
    PLANE_SPREAD,
    PLANE_THREE_STEPS,
    SPREAD,
    THREE_STEPS,
    V,
    expected_gradients,
    expected_plane_gradients,
    rollouts,
)

a3c = load_algorithm("a3c")


# ---- a worker's learning step, by hand ----

# as a2c.py's probe (tests/test_a2c.py): γ = λ = 0.5, a learning rate so small that the tables keep
# their values, and no clipping; one worker
PROBE = dict(seed=1, num_envs=1, total_timesteps=30, gamma=0.5, gae_lambda=0.5, ent_coef=BETA, vf_coef=C_V)
PROBE |= dict(learning_rate=1e-9, max_grad_norm=1e6)


def run_worker(monkeypatch, env_id, policy, **settings):
    """Run a3c.py's worker 0 in this process, alone, on tables: the shared network holds `policy` and V.
    Returns the worker's own network, the shared network's optimizer (optimizer.gradients: what each of
    its steps applied) and the shared parameters as each step found them."""
    networks = probes.actor_critic_tables(a3c, monkeypatch, policy, V)
    probes.recording_adam(monkeypatch)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # the worker ignores Ctrl-C; pytest must not
    args = a3c.Args(env_id=env_id, **(PROBE | settings))
    shared = a3c.ActorCritic(3, gym.make(env_id).action_space, args.hidden_size)
    optimizer = torch.optim.Adam(shared.parameters(), lr=args.learning_rate)
    shared_before_each_step, step = [], optimizer.step

    def step_recording_the_shared_parameters():
        shared_before_each_step.append([param.detach().clone() for param in shared.parameters()])
        step()

    optimizer.step = step_recording_the_shared_parameters
    steps_done, stop = multiprocessing.Value("q", 0), threading.Event()
    a3c.worker(
        0, args, gym.spec(env_id), "", shared, optimizer, threading.Lock(), steps_done, queue.Queue(), stop, 0
    )
    _, local = networks
    return local, optimizer, shared_before_each_step


@pytest.mark.parametrize(
    ("env_id", "num_steps", "episode_steps", "advantages", "spread"), CASES.values(), ids=CASES
)
def test_each_update_learns_the_advantages_of_its_rollout(
    monkeypatch, env_id, num_steps, episode_steps, advantages, spread
):
    agent, optimizer, _ = run_worker(monkeypatch, env_id, LOGITS, num_steps=num_steps)
    learned = rollouts(agent, num_steps, episode_steps)
    assert len(learned) == len(optimizer.gradients) >= 10
    assert {state for rows in learned for state, _ in rows} == set(advantages)  # every one was learned from
    for rows, gradients in zip(learned, optimizer.gradients):
        torch.testing.assert_close(gradients, expected_gradients(rows, advantages, spread))


def test_the_gradient_is_clipped_to_max_grad_norm(monkeypatch):
    agent, optimizer, _ = run_worker(monkeypatch, "Chain-v0", LOGITS, num_steps=3, max_grad_norm=0.5)
    learned = rollouts(agent, 3, 2)
    assert len(learned) == len(optimizer.gradients) >= 10
    for rows, gradients in zip(learned, optimizer.gradients):
        unclipped = expected_gradients(rows, THREE_STEPS, SPREAD)
        norm = torch.cat([gradient.flatten() for gradient in unclipped]).norm()
        assert norm > 1
        torch.testing.assert_close(gradients, [gradient * 0.5 / (norm + 1e-6) for gradient in unclipped])


def test_a_gaussian_policy_learns_from_the_actions_drawn_not_the_clipped_ones(monkeypatch):
    # the Gaussian's means are MEANS and σ = 1: a third of the actions drawn fall outside [−1, 1]
    agent, optimizer, _ = run_worker(monkeypatch, "ContinuousChain-v0", MEANS, num_steps=1)
    learned = rollouts(agent, 1, 2)
    assert len(learned) == len(optimizer.gradients) >= 10
    assert any(abs(float(action)) > 1 for ((_, action),) in learned)
    for ((state, action),), (mean_gradient, value_gradient, log_std_gradient) in zip(
        learned, optimizer.gradients
    ):
        # as a2c.py's: ∂ log π / ∂μ = z, ∂ log π / ∂log σ = z² − 1 and ∂H/∂log σ = 1, z = a − μ
        delta, z = ONE_STEP[state], float(action) - MEANS[state][0]
        assert mean_gradient[state].item() == pytest.approx(-delta * z, abs=1e-6)
        assert log_std_gradient.item() == pytest.approx(-delta * (z**2 - 1) - BETA, abs=1e-6)
        assert value_gradient[state].item() == pytest.approx(-2 * C_V * delta, abs=1e-6)
        assert mean_gradient.count_nonzero() == value_gradient.count_nonzero() == 1


def test_a_gaussian_policy_on_two_action_dimensions_learns_each_dimension_from_the_action_drawn(monkeypatch):
    # as a2c.py's (tests/test_a2c.py): actions in [0, 4] × [−1, 1], rollouts of three steps, λ = 0.8; the env gets
    # each action clipped to its own dimension's bounds, the update learns from it as drawn
    monkeypatch.setattr(probes.PlaneChain, "received", [])
    agent, optimizer, _ = run_worker(
        monkeypatch, "PlaneChain-v0", PLANE_MEANS, num_steps=3, gae_lambda=PLANE_LAMBDA
    )
    learned = rollouts(agent, 3, 2)
    assert len(learned) == len(optimizer.gradients) >= 10
    drawn = np.stack([action.numpy() for rows in learned for _, action in rows])
    assert ((drawn < PLANE.low) | (drawn > PLANE.high)).any(axis=0).all()  # out of bounds in each dimension
    np.testing.assert_allclose(probes.PlaneChain.received, np.clip(drawn, PLANE.low, PLANE.high))
    for rows, gradients in zip(learned, optimizer.gradients):
        torch.testing.assert_close(gradients, expected_plane_gradients(rows, PLANE_THREE_STEPS, PLANE_SPREAD))


def test_a_worker_learns_the_shared_network_s_log_sigma_in_each_dimension(monkeypatch):
    # a3c.py's own network, shared, at a learning rate at which it moves: log σ is a parameter of it, 0 at
    # first, and the worker's gradients reach it, in both dimensions
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    args = a3c.Args(env_id="PlaneChain-v0", num_steps=3, **(PROBE | dict(learning_rate=0.01)))
    shared = a3c.ActorCritic(3, PLANE, args.hidden_size)
    log_std = dict(shared.named_parameters())["log_std"]
    torch.testing.assert_close(log_std.detach(), torch.zeros(2))
    optimizer = torch.optim.Adam(shared.parameters(), lr=args.learning_rate)
    spec, steps_done, stop = gym.spec(args.env_id), multiprocessing.Value("q", 0), threading.Event()
    a3c.worker(0, args, spec, "", shared, optimizer, threading.Lock(), steps_done, queue.Queue(), stop, 0)
    assert steps_done.value == 30
    assert log_std.ne(0).all()


def test_each_rollout_is_learned_at_the_shared_parameters_as_they_are(monkeypatch):
    # a learning rate at which the shared tables move, by about 0.01 an entry a step: before each rollout
    # the worker copies them, θ' ← θ, and its gradient is taken there
    agent, _, shared_before_each_step = run_worker(
        monkeypatch, "Chain-v0", LOGITS, num_steps=1, learning_rate=0.01
    )
    assert len(agent.learned_with) == len(shared_before_each_step) >= 10
    torch.testing.assert_close(agent.learned_with, shared_before_each_step)
    assert not torch.equal(shared_before_each_step[-1][1], shared_before_each_step[0][1])  # they moved


# ---- the workers as processes ----


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
    """a3c.py in a session of its own, as from a terminal, once its workers are running. (The tests give
    it 200,000 steps: its first progress line comes at a twentieth of them, a few seconds in.)"""
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
    run = start("--total-timesteps", "200000", "--no-stop-when-solved", "--save-model")
    workers = workers_of(run)
    assert len(workers) == 2
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: every process of the terminal's group gets it
    output = run.stdout.read()
    assert run.wait(timeout=60) == 128 + signal.SIGINT, output
    assert wait_until_gone(workers, 5) == []
    checkpoint = torch.load(output.split("--resume ")[-1].strip(), weights_only=False)
    assert checkpoint["algorithm"] == "a3c" and checkpoint["global_step"] > 0


def test_workers_end_when_the_main_process_is_killed():
    run = start("--total-timesteps", "200000", "--no-stop-when-solved")
    workers = workers_of(run)
    assert len(workers) == 2
    run.kill()  # SIGKILL: the main process cannot stop them
    run.wait()
    assert wait_until_gone(workers, 15) == []


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


class RecordsItsSeeds(probes.Chain):
    """The chain, noting in seeds.txt, in the working directory, each seed it is reset with and which
    process reset it."""

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            with open("seeds.txt", "a") as f:
                f.write(f"{os.getpid()} {seed}\n")
        return super().reset(seed=seed, options=options)


gym.register("RecordsItsSeeds-v0", entry_point=RecordsItsSeeds)


def test_the_workers_share_one_adam_state_and_a_resumed_run_steps_it_on_with_new_episodes():
    a3c = load_algorithm("a3c")  # the module the workers import by name now, as the tests above do
    settings = dict(
        env_id="RecordsItsSeeds-v0", seed=1, num_workers=2, num_envs=2, num_steps=8, eval_episodes=1
    )
    settings |= dict(save_model=True, stop_when_solved=False)

    def optimizer_steps(summary, total_timesteps):
        checkpoint = torch.load(summary["model_path"], weights_only=False)
        # every rollout of either worker ends in one step of the one optimizer: its count is theirs together
        rollouts = checkpoint["global_step"] // (settings["num_envs"] * settings["num_steps"])
        assert checkpoint["global_step"] >= total_timesteps
        states = checkpoint["optimizer"]["state"].values()
        assert len(states) == len(checkpoint["agent"])  # one per parameter
        assert all(state["step"] == rollouts for state in states)
        return rollouts

    def workers_seeds() -> set:
        """The seeds the workers' envs were reset with since the last call (not this process's, which
        evaluates)."""
        with open("seeds.txt") as f:
            lines = [line.split() for line in f]
        os.remove("seeds.txt")
        return {int(seed) for pid, seed in lines if int(pid) != os.getpid()}

    first = a3c.train(a3c.Args(total_timesteps=1_024, **settings))
    before = optimizer_steps(first, 1_024)
    # a new run's workers as always: worker k's env i seeded with seed + 1000 k + i
    assert workers_seeds() == {1, 2, 1_001, 1_002}
    step = torch.load(first["model_path"], weights_only=False)["global_step"]
    # the resumed workers step the checkpoint's Adam state on, shared again, and seed their envs from
    # the step they go on from: not the first run's episodes again
    resumed = a3c.train(a3c.Args(total_timesteps=2_048, resume=first["model_path"], **settings))
    assert optimizer_steps(resumed, 2_048) > before
    assert workers_seeds() == {1 + step, 2 + step, 1_001 + step, 1_002 + step}
