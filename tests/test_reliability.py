"""Interrupted runs lose nothing and resume exactly; checkpoints are written atomically; a run
whose loss stops being finite stops with a clear message and keeps its last good checkpoint."""

import glob
import importlib.util
import os
import pickle
import signal
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import (
    ACTING_NETWORK,
    ALGORITHMS_DIR,
    CONTINUOUS,
    DETERMINISTIC,
    PIXELS,
    REPLAY_FILES,
    SHORT_RUNS,
    load_algorithm,
)
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# Runs long enough to be stopped in the middle of learning, and the step after which to stop them.
DQN_LONG_RUN = (["--total-timesteps", "1500", "--learning-starts", "500", "--save-buffer"], 700)
LONG_RUNS = {
    **{
        name: DQN_LONG_RUN
        for name in ("dqn", "double_dqn", "dueling_dqn", "per_dqn", "noisy_dqn", "c51", "rainbow")
    },
    "reinforce": (["--total-timesteps", "8000", "--num-envs", "4"], 2_000),
    "actor_critic": (["--total-timesteps", "24000", "--num-envs", "16"], 6_000),
    "a2c": (["--total-timesteps", "8192", "--num-envs", "4"], 3_000),
    "ppo": (["--total-timesteps", "16384", "--num-envs", "4"], 4_000),
    **{
        name: (["--total-timesteps", "2000", "--learning-starts", "500", "--save-buffer"], 1_000)
        for name in CONTINUOUS
    },
}
# SIGINT (Ctrl-C) for some files, SIGTERM for the others: the code that handles them is the same.
STOP_SIGNAL = {name: (signal.SIGINT, signal.SIGTERM)[i % 2] for i, name in enumerate(LONG_RUNS)}


def start(name: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-u", str(ALGORITHMS_DIR / f"{name}.py"), "--seed", "1", "--save-model", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_record(name: str, exp_name: str):
    """The episode returns a run logged (over all its event files) and its final network weights."""
    run_dir = glob.glob(f"runs/*__{exp_name}__1__*")[0]
    events = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    events.Reload()
    # in the order they were written: the event files of one process in one second sort by a counter
    # compared as text, so the resumed part's file can come first ("...10" < "...9")
    episodes = sorted(events.Scalars("charts/episodic_return"), key=lambda e: e.wall_time)
    returns = [(e.step, e.value) for e in episodes]
    checkpoint = torch.load(f"{run_dir}/{exp_name}.pt", weights_only=True)
    return returns, checkpoint[ACTING_NETWORK[name][0]]


# Stopping on a signal and resuming are plumbing, the same text in every file (tests/test_plumbing.py),
# and what each file's checkpoint holds is checked in-process for every file by
# test_a_run_cut_just_before_it_is_solved_resumes_to_the_same_end. So the default suite runs the three
# processes of this test for one file of each kind of learner, both signals among them; -m slow for all.
KINDS_OF_LEARNER = ("dqn", "rainbow", "a2c", "ddpg")


@pytest.mark.parametrize(
    "name",
    [name if name in KINDS_OF_LEARNER else pytest.param(name, marks=pytest.mark.slow) for name in LONG_RUNS],
)
def test_stopped_and_resumed_run_matches_an_uninterrupted_one(name):
    args, stop_after = LONG_RUNS[name]
    full = start(name, *args, "--exp-name", "full")

    cut = start(name, *args, "--exp-name", "cut")
    for line in cut.stdout:  # wait until the run is well into learning, then stop it
        if line.startswith("step") and int(line.split()[1].replace(",", "")) >= stop_after:
            cut.send_signal(STOP_SIGNAL[name])
            break
    output = cut.stdout.read()
    assert cut.wait() == 128 + STOP_SIGNAL[name], output
    checkpoint_path = output.split("--resume ")[-1].strip()
    assert os.path.exists(checkpoint_path) and not os.path.exists(checkpoint_path + ".tmp")

    resumed = start(name, *args, "--exp-name", "cut", "--resume", checkpoint_path)
    resumed_output = resumed.stdout.read()
    assert resumed.wait() == 0, resumed_output
    assert "resuming" in resumed_output
    assert full.wait() == 0, full.stdout.read()

    full_returns, full_weights = run_record(name, "full")
    cut_returns, cut_weights = run_record(name, "cut")
    assert cut_returns == full_returns
    assert full_weights.keys() == cut_weights.keys()
    for key in full_weights:
        assert torch.equal(full_weights[key], cut_weights[key]), key


class FailsHalfWay:
    """Pickling this raises: a write of a checkpoint that holds it breaks off in the middle."""

    def __reduce__(self):
        raise RuntimeError("the write broke off")


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_checkpoint_is_written_atomically(name, tmp_path):
    algorithm = load_algorithm(name)
    path = str(tmp_path / "checkpoint.pt")
    algorithm.save_checkpoint(path, {"weights": torch.ones(3)})
    with pytest.raises(RuntimeError):
        algorithm.save_checkpoint(path, {"weights": torch.zeros(3), "then": FailsHalfWay()})
    assert torch.equal(torch.load(path)["weights"], torch.ones(3))


class Overflow(gym.Wrapper):
    """An env (CartPole, unless told) whose rewards, or with `observations` whose observations, become
    infinite after `after` steps: a run that goes wrong late."""

    def __init__(self, after=1_200, render_mode=None, env_id="CartPole-v1", observations=False):
        super().__init__(gym.make(env_id, render_mode=render_mode))
        self.steps, self.after, self.observations = 0, after, observations

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.steps > self.after:
            obs, reward = (np.full_like(obs, np.inf), reward) if self.observations else (obs, np.inf)
        return obs, reward, terminated, truncated, info


gym.register("RewardOverflow-v0", entry_point=Overflow, max_episode_steps=500)
gym.register("PendulumRewardOverflow-v0", entry_point=Overflow, kwargs={"env_id": "Pendulum-v1"})
gym.register(
    "ObservationOverflow-v0", entry_point=Overflow, max_episode_steps=500, kwargs={"observations": True}
)
# c51 and rainbow clip their targets to [v_min, v_max], so that infinite rewards cannot make their loss
# overflow; infinite observations can
OVERFLOW_ENV = dict.fromkeys(CONTINUOUS, "PendulumRewardOverflow-v0") | dict.fromkeys(
    ["c51", "rainbow"], "ObservationOverflow-v0"
)


# the files for pixels clip their rewards to ±1 and see screens of bytes or booleans: no input can make their
# loss overflow, only a learning rate (tests/test_pixels.py)
@pytest.mark.parametrize("name", [name for name in SHORT_RUNS if name not in PIXELS])
def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(name, capsys):
    algorithm = load_algorithm(name)
    settings = SHORT_RUNS[name] | dict(total_timesteps=20_000, checkpoint_frequency=512)
    if "learning_starts" in settings:
        settings["learning_starts"] = 200
    settings["env_id"] = OVERFLOW_ENV.get(name, "RewardOverflow-v0")
    with pytest.raises(SystemExit) as stopped:
        algorithm.train(algorithm.Args(seed=1, **settings))
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert "diverged" in error and "the last good checkpoint is" in error
    checkpoint_path = error.split("the last good checkpoint is ")[-1].strip()
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    for key, value in checkpoint.items():
        if isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values()):
            assert all(torch.isfinite(v).all() for v in value.values()), key


class StopsTheRunAtStep:
    """An env (CartPole, Pendulum) whose copies, all together, send SIGTERM to this process on their
    `stop_at`-th step: a run cut wherever a test wants it, as Ctrl-C would cut it."""

    steps, stop_at = 0, None

    def step(self, action):
        StopsTheRunAtStep.steps += 1
        if StopsTheRunAtStep.steps == StopsTheRunAtStep.stop_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().step(action)


class CartPoleStopped(StopsTheRunAtStep, CartPoleEnv):
    pass


class PendulumStopped(StopsTheRunAtStep, PendulumEnv):
    pass


# thresholds that short runs reach: the stop rule's state matters when a run is cut near it
gym.register("CartPole150-v0", entry_point=CartPoleStopped, max_episode_steps=500, reward_threshold=150)
gym.register("Pendulum700-v0", entry_point=PendulumStopped, max_episode_steps=200, reward_threshold=-700)
CUT_ENV = dict.fromkeys(CONTINUOUS, "Pendulum700-v0")
if importlib.util.find_spec(
    "minatar"
):  # MinAtar has no threshold: its short runs are cut at 85% of their steps
    from minatar.gym import BaseEnv as MinAtarEnv

    class BreakoutStopped(StopsTheRunAtStep, MinAtarEnv):
        pass

    gym.register(
        "MinAtar/BreakoutStopped-v0",
        entry_point=BreakoutStopped,
        kwargs=dict(game="breakout", use_minimal_action_set=True),
    )
    CUT_ENV |= dict.fromkeys(PIXELS, "MinAtar/BreakoutStopped-v0")


# Under -m slow: rainbow's (~50 s, the longest) and ddpg's (~20 s), whose checkpoints are also checked by
# their three-process stop and resume above; and double_dqn's, dueling_dqn's and c51's, whose train() is
# dqn.py's but for the network's construction, the target and the loss (diff them), so their checkpoints
# hold what dqn's holds. The stop rule's state is plumbing, checked by the others.
SLOW_TO_CUT = ("rainbow", "ddpg", "double_dqn", "dueling_dqn", "c51")


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_TO_CUT else name for name in DETERMINISTIC],
)
def test_a_run_cut_just_before_it_is_solved_resumes_to_the_same_end(name):
    algorithm = load_algorithm(name)
    settings = dict(env_id=CUT_ENV.get(name, "CartPole150-v0"), seed=1, save_model=True)
    if name in PIXELS:  # the papers' budgets, not a short run's
        settings = SHORT_RUNS[name] | settings | dict(eval_frequency=0)
    if name in REPLAY_FILES:
        settings |= dict(save_buffer=True)
    if name in CONTINUOUS:
        # one greedy episode for the stop rule's check: td3 fails a check of ten on Pendulum700 (one of
        # its episodes gives −1,491) and runs 2,000 steps on, ~9 s a run of the three
        settings |= dict(check_episodes=1)

    StopsTheRunAtStep.stop_at = None
    full = algorithm.train(algorithm.Args(exp_name="full", **settings))
    full_events = EventAccumulator(full["run_dir"], size_guidance={"scalars": 0})
    full_events.Reload()
    solved_at = full_events.Scalars("eval/episodic_return")[-1].step

    StopsTheRunAtStep.steps, StopsTheRunAtStep.stop_at = 0, int(0.85 * solved_at)
    with pytest.raises(SystemExit) as stopped:
        algorithm.train(algorithm.Args(exp_name="cut", **settings))
    assert stopped.value.code == 128 + signal.SIGTERM
    checkpoint_path = glob.glob("runs/*__cut__1__*/cut.pt")[0]
    resumed = algorithm.train(algorithm.Args(exp_name="cut", resume=checkpoint_path, **settings))

    assert resumed["eval_returns"] == full["eval_returns"]
    full_returns, full_weights = run_record(name, "full")
    cut_returns, cut_weights = run_record(name, "cut")
    assert cut_returns == full_returns  # the same episodes, ending at the same step
    for key in full_weights:
        assert torch.equal(full_weights[key], cut_weights[key]), key


def test_actor_critic_resumes_onto_a_step_where_every_env_only_resets():
    algorithm = load_algorithm("actor_critic")
    settings = dict(seed=1, num_envs=1, save_model=True, stop_when_solved=False)
    summary = algorithm.train(algorithm.Args(total_timesteps=300, **settings))
    checkpoint = torch.load(summary["model_path"], weights_only=True)
    # the first step after the resume is number 100, one that logs, and the env only resets in it:
    # no update has been made in this process when the losses would be logged
    envs, obs, _ = pickle.loads(checkpoint["envs"])
    checkpoint["global_step"], checkpoint["envs"] = 99, pickle.dumps((envs, obs, np.ones(1, dtype=bool)))
    torch.save(checkpoint, summary["model_path"])
    resumed = algorithm.train(algorithm.Args(total_timesteps=400, resume=summary["model_path"], **settings))
    assert len(resumed["eval_returns"]) == 10


def test_a_resumed_run_keeps_its_arguments_and_schedules(capsys):
    algorithm = load_algorithm("dqn")
    # ε falls from 1 to 0 over the first half of the 2,000 steps the run is started with
    settings = dict(
        seed=1, learning_starts=500, exploration_fraction=0.5, save_model=True, stop_when_solved=False
    )
    first = algorithm.train(algorithm.Args(total_timesteps=2_000, **settings))
    capsys.readouterr()

    with pytest.raises(SystemExit) as refused:
        algorithm.train(
            algorithm.Args(total_timesteps=8_000, learning_rate=1e-4, resume=first["model_path"], **settings)
        )
    assert refused.value.code == 2
    assert "the checkpoint has --learning-rate 0.002, not 0.0001" in capsys.readouterr().err

    # a longer budget goes on where the run was: ε stays at 0, not back on a decay over 4,000 steps,
    # and so it does after a second resume, whose checkpoint was written with --total-timesteps 8000
    # (a decay over half of 20,000 steps would put ε above 0 from step 8,000 to 10,000)
    algorithm.train(algorithm.Args(total_timesteps=8_000, resume=first["model_path"], **settings))
    assert "from the command line: --total-timesteps 8000 (was 2000)" in capsys.readouterr().out
    assert torch.load(first["model_path"], weights_only=True)["planned_steps"] == 2_000
    algorithm.train(algorithm.Args(total_timesteps=20_000, resume=first["model_path"], **settings))
    events = EventAccumulator(first["run_dir"], size_guidance={"scalars": 0})
    events.Reload()
    after = [e.value for e in events.Scalars("charts/epsilon") if e.step > 2_000]
    assert after and all(epsilon == 0.0 for epsilon in after)

    # a checkpoint written before an argument existed (here --huber-delta) says so, and takes today's value
    checkpoint = torch.load(first["model_path"], weights_only=True)
    del checkpoint["args"]["huber_delta"]
    torch.save(checkpoint, first["model_path"])
    capsys.readouterr()
    algorithm.train(algorithm.Args(total_timesteps=20_500, resume=first["model_path"], **settings))
    assert (
        "notice: the checkpoint predates --huber-delta 10.0; the resumed run takes" in capsys.readouterr().out
    )


class PickledByArguments(CartPoleEnv, gym.utils.EzPickle):
    """CartPole, pickled as MuJoCo's and Box2D's envs are: by the arguments it was made with (EzPickle),
    so that it unpickles as a new env, not where it was."""

    def __init__(self, render_mode=None):
        CartPoleEnv.__init__(self, render_mode=render_mode)
        gym.utils.EzPickle.__init__(self, render_mode=render_mode)


gym.register("CartPolePickledByArguments-v0", entry_point=PickledByArguments, max_episode_steps=500)


def test_a_checkpoint_keeps_no_env_that_would_unpickle_in_its_first_state():
    # the plumbing's env_state, the same text in every file: CartPole's own state pickles and comes back
    # as it was; an env pickled by its arguments would come back in its first state, and is not kept
    dqn = load_algorithm("dqn")
    for env_id, kept in (("CartPole-v1", True), ("CartPolePickledByArguments-v0", False)):
        envs = dqn.make_env(env_id, 2, 1, capture_video=False, video_folder="")
        obs, _ = envs.reset(seed=1)
        for _ in range(5):
            obs, *_ = envs.step(np.zeros(2, dtype=np.int64))
        state = dqn.env_state((envs, obs))
        assert (state is not None) == kept, env_id
        if kept:
            copy, copy_obs = pickle.loads(state)
            assert np.array_equal(
                copy.step(np.ones(2, dtype=np.int64))[0], envs.step(np.ones(2, dtype=np.int64))[0]
            )
