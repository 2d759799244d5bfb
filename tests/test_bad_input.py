"""Bad input ends with one line that names the problem and the flag, exit status 2, no traceback,
and nothing written: no run directory that would look like a real run."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import torch
import tyro
from conftest import (
    ALGORITHMS_DIR,
    CONTINUOUS,
    PIXEL_RUNS,
    PIXELS,
    REPLAY_FILES,
    SHORT_RUNS,
    WRONG_ENV,
    load_algorithm,
)

# (arguments, what the error line must say), for every file
CASES = [
    ({"env_id": "NoSuchEnv-v0"}, "--env-id NoSuchEnv-v0"),
    ({"env_id": "FrozenLake-v1"}, "flat vectors"),
    ({"learning_rate": 0.0}, "--learning-rate must be positive"),
    ({"learning_rate": -1e-3}, "--learning-rate must be positive"),
    ({"total_timesteps": 0}, "--total-timesteps must be positive"),
    ({"num_envs": -2}, "--num-envs must be positive"),
    ({"resume": "no/such/checkpoint.pt"}, "--resume no/such/checkpoint.pt: no such file"),
    ({"evaluate": "no/such/checkpoint.pt"}, "--evaluate no/such/checkpoint.pt: no such file"),
    ({"evaluate": "a.pt", "resume": "a.pt"}, "--resume and --evaluate: a run either goes on or is evaluated"),
    # by range, not only by sign: each flag names its interval
    ({"gamma": 1.5}, "--gamma must be in [0, 1], not 1.5"),
    ({"gamma": float("nan")}, "--gamma must be in [0, 1], not nan"),
    ({"hidden_size": 0}, "--hidden-size must be positive, not 0"),
    ({"hidden_size": -1}, "--hidden-size must be positive, not -1"),
    ({"check_episodes": 0}, "--check-episodes must be positive, not 0"),
    ({"seed": -1}, "--seed must be in [0, inf), not -1"),
    ({"total_timesteps": 2, "num_envs": 3}, "--total-timesteps 2 is less than one step of the --num-envs 3"),
    ({"exp_name": "my/exp", "save_model": True}, "--exp-name 'my/exp' must be a name, not a path"),
    ({"env_id": "BrokenImport-v0"}, "--env-id BrokenImport-v0: ModuleNotFoundError: No module named"),
]
# an env whose module fails to import, as phys2d/CartPole-v1 does without jax
gym.register("BrokenImport-v0", entry_point="no_such_module_of_envs:Env")
# and for the files with a replay buffer
REPLAY_CASES = [
    ({"batch_size": 0}, "--batch-size must be positive"),
    ({"buffer_size": -5}, "--buffer-size must be positive"),
    ({"batch_size": 256, "buffer_size": 100}, "--batch-size 256 is larger than --buffer-size 100"),
    ({"learning_starts": 50_000, "total_timesteps": 40_000}, "--learning-starts 50000"),
    (
        {"buffer_size": 500, "learning_starts": 1_000},
        "--buffer-size 500 must be larger than --learning-starts 1000",
    ),
    ({"tau": 2.0}, "--tau must be in (0, 1], not 2.0"),
]
# and the bounds of each file's own arguments
OWN_CASES = [
    *(
        (name, {"huber_delta": 0.0}, "--huber-delta must be positive, not 0.0")
        for name in ("dqn", "double_dqn", "dueling_dqn", "per_dqn", "noisy_dqn", "rainbow")
    ),
    ("per_dqn", {"beta_start": 2.0}, "--beta-start must be in [0, 1], not 2.0"),
    ("per_dqn", {"alpha": -0.5}, "--alpha must be in [0, 1], not -0.5"),
    ("noisy_dqn", {"sigma_0": -0.5}, "--sigma-0 must be in [0, inf), not -0.5"),
    ("noisy_dqn", {"sigma_learning_rate": 0.0}, "--sigma-learning-rate must be positive, not 0.0"),
    ("rainbow", {"n_step": 0}, "--n-step must be positive, not 0"),
    ("rainbow", {"v_min": 10.0, "v_max": -10.0}, "--v-min 10.0 must be smaller than --v-max -10.0"),
    ("c51", {"n_atoms": 1}, "--n-atoms must be in [2, inf), not 1"),
    ("c51", {"v_min": 10.0, "v_max": 10.0}, "--v-min 10.0 must be smaller than --v-max 10.0"),
    ("actor_critic", {"ent_coef": -1.0}, "--ent-coef must be in [0, inf), not -1.0"),
    ("actor_critic", {"critic_learning_rate": 0.0}, "--critic-learning-rate must be positive, not 0.0"),
    ("reinforce", {"value_learning_rate": -1.0}, "--value-learning-rate must be positive, not -1.0"),
    ("a2c", {"gae_lambda": 1.5}, "--gae-lambda must be in [0, 1], not 1.5"),
    ("a2c", {"max_grad_norm": 0.0}, "--max-grad-norm must be positive, not 0.0"),
    ("a2c", {"num_steps": 0}, "--num-steps must be positive, not 0"),
    ("a2c", {"total_timesteps": 100, "num_envs": 4, "num_steps": 32}, "less than one rollout"),
    (
        "a2c",
        {"env_id": "MultiBinaryActions-v0"},
        "neither a discrete action space nor a vector of continuous",
    ),
    ("ppo", {"clip_coef": 0.0}, "--clip-coef must be positive, not 0.0"),
    ("ppo", {"update_epochs": 0}, "--update-epochs must be positive, not 0"),
    ("ppo", {"target_kl": -0.01}, "--target-kl must be in [0, inf), not -0.01"),
    (
        "ppo",
        {"num_envs": 2, "num_steps": 4, "num_minibatches": 9},
        "--num-minibatches 9 is more than the transitions",
    ),
    ("ddpg", {"exploration_noise": -0.1}, "--exploration-noise must be in [0, inf), not -0.1"),
    ("ddpg", {"critic_learning_rate": 0.0}, "--critic-learning-rate must be positive, not 0.0"),
    ("td3", {"noise_clip": -0.5}, "--noise-clip must be in [0, inf), not -0.5"),
    ("td3", {"policy_frequency": 0}, "--policy-frequency must be positive, not 0"),
    ("sac", {"alpha": 0.0}, "--alpha must be positive, not 0.0"),
    ("sac", {"tau": 1.5}, "--tau must be in (0, 1], not 1.5"),
    ("sac", {"env_id": "MountainCar-v0"}, "not a bounded continuous action space"),
]
# the files for pixels, on a game each can run
MINATAR = {"env_id": "MinAtar/Breakout-v1"}
OWN_CASES += [
    ("dqn_atari", MINATAR | {"huber_delta": 0.0}, "--huber-delta must be positive, not 0.0"),
    (
        "dqn_atari",
        MINATAR | {"target_network_frequency": 0},
        "--target-network-frequency must be positive, not 0",
    ),
    *(
        (name, MINATAR | {"eval_epsilon": 1.5}, "--eval-epsilon must be in [0, 1], not 1.5")
        for name in PIXEL_RUNS
    ),
    # a transition's frames and an episode's last beside them, for each env: 3 on MinAtar, 6 on Atari
    (
        "dqn_atari",
        MINATAR | {"buffer_size": 5, "num_envs": 2, "learning_starts": 0},
        "holds less than 3 frames for each of the 2 envs",
    ),
    (
        "dqn_atari",
        {"env_id": "ALE/Pong-v5", "buffer_size": 5, "learning_starts": 0},
        "holds less than 6 frames for each of the 1 envs",
    ),
    # a buffer of 1,000 frames shared by 3 envs holds 999: learning would never start
    (
        "dqn_atari",
        MINATAR | {"buffer_size": 1_000, "num_envs": 3, "learning_starts": 999},
        "--buffer-size 1000 must be larger than --learning-starts 999",
    ),
    ("ppo_atari", MINATAR | {"clip_coef": 0.0}, "--clip-coef must be positive, not 0.0"),
    (
        "ppo_atari",
        MINATAR | {"num_envs": 2, "num_steps": 4, "num_minibatches": 9},
        "--num-minibatches 9 is more than the transitions",
    ),
    ("pqn_atari", MINATAR | {"q_lambda": 1.5}, "--q-lambda must be in [0, 1], not 1.5"),
    ("pqn_atari", MINATAR | {"eval_epsilon": -0.5}, "--eval-epsilon must be in [0, 1], not -0.5"),
    (
        "pqn_atari",
        MINATAR | {"num_envs": 2, "num_steps": 4, "num_minibatches": 9},
        "--num-minibatches 9 is more than the transitions",
    ),
]
OWN_CASES = [case for case in OWN_CASES if case[0] in SHORT_RUNS]  # the pixel files only with the atari extra
for name in ("dqn", "double_dqn", "dueling_dqn", "per_dqn", "c51", "rainbow"):  # the files with ε-greedy
    OWN_CASES += [
        (name, {"end_e": -0.1}, "--end-e must be in [0, 1], not -0.1"),
        (name, {"exploration_fraction": 0.0}, "--exploration-fraction must be in (0, 1], not 0.0"),
    ]


class MultiBinaryActions(gym.Env):
    """An env whose actions are a vector of bits: neither one choice among n nor continuous."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
    action_space = gym.spaces.MultiBinary(3)


gym.register("MultiBinaryActions-v0", entry_point=MultiBinaryActions)


def env_of(name: str) -> str:
    """The env of a file's short run: one whose spaces it can handle."""
    return SHORT_RUNS[name].get("env_id", "CartPole-v1")


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
    if "env_id" not in args:  # a file's flags are checked on an env it can run
        args = {"env_id": env_of(name)} | args
    if name in PIXELS:  # the papers' networks, of no --hidden-size; screens, where the others take vectors
        if "hidden_size" in args:
            pytest.skip("the pixel files' networks are the papers', with no --hidden-size")
        message = message.replace("flat vectors", "not an Atari or MinAtar screen")
    assert_refused(load_algorithm(name), capsys, message, **args)


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_an_env_whose_spaces_the_file_cannot_handle(name, capsys):
    env_id, message = WRONG_ENV[name]
    assert_refused(load_algorithm(name), capsys, message, env_id=env_id)


@pytest.mark.parametrize("name", REPLAY_FILES)
@pytest.mark.parametrize(("args", "message"), REPLAY_CASES, ids=[message for _, message in REPLAY_CASES])
def test_bad_replay_argument(name, args, message, capsys):
    args = {"env_id": env_of(name)} | args
    assert_refused(load_algorithm(name), capsys, message, **args)


@pytest.mark.parametrize(("name", "args", "message"), OWN_CASES, ids=[message for *_, message in OWN_CASES])
def test_bad_own_argument(name, args, message, capsys):
    assert_refused(load_algorithm(name), capsys, message, **args)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The checkpoint of a file's short run, made the first time a test of this process asks for it."""

    @functools.cache
    def of(name):
        os.chdir(tmp_path_factory.mktemp(name))
        algorithm = load_algorithm(name)
        summary = algorithm.train(algorithm.Args(save_model=True, **SHORT_RUNS[name] | {"eval_frequency": 0}))
        return os.path.abspath(summary["model_path"])

    return of


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_resume_refuses_a_checkpoint_that_cannot_continue_the_run(name, checkpoint, capsys, tmp_path):
    algorithm = load_algorithm(name)
    other = "reinforce" if name != "reinforce" else "dqn"
    own, theirs = checkpoint(name), checkpoint(other)  # each made in a directory of its own
    os.chdir(tmp_path)
    Path("corrupt.pt").write_bytes(Path(own).read_bytes()[:1000])  # a write cut short
    assert_refused(algorithm, capsys, "not a readable checkpoint", resume="corrupt.pt")
    assert_refused(algorithm, capsys, f"the checkpoint is of {other}, not of {name}", resume=theirs)
    env_id = env_of(name)
    # one the file can run
    other_env = (
        "MountainCarContinuous-v0"
        if name in CONTINUOUS
        else "MinAtar/Asterix-v1"
        if name in PIXELS
        else "Acrobot-v1"
    )
    assert_refused(
        algorithm,
        capsys,
        f"has --env-id {env_id}, not {other_env}",
        env_id=other_env,
        resume=own,
    )
    assert_refused(algorithm, capsys, "the run is complete", **SHORT_RUNS[name], resume=own)
    # and to evaluate: any checkpoint of this file, none of another's
    assert_refused(
        algorithm, capsys, "--evaluate corrupt.pt: not a readable checkpoint", evaluate="corrupt.pt"
    )
    assert_refused(algorithm, capsys, f"the checkpoint is of {other}, not of {name}", evaluate=theirs)


class RunsCodeWhenUnpickled:
    """What a checkpoint from a stranger may hold: an object whose unpickling calls a function, here one
    that writes a file (it could as well delete one, or send it away)."""

    def __reduce__(self):
        return exec, ("open('code_ran', 'w').close()",)


def crafted(checkpoint_path: str) -> tuple[str, str]:
    """A checkpoint of the file's own run with one object more, which runs code when unpickled, and the
    same checkpoint saved again without it: the paths of both, in the working directory."""
    checkpoint = torch.load(checkpoint_path, weights_only=True)  # a checkpoint refrl writes loads so
    torch.save(checkpoint | {"note": RunsCodeWhenUnpickled()}, "crafted.pt")
    torch.save(checkpoint, "proper.pt")
    return "crafted.pt", "proper.pt"


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_a_checkpoint_that_would_run_code_is_refused_unread(name, checkpoint, capsys, tmp_path):
    algorithm = load_algorithm(name)
    own = checkpoint(name)
    os.chdir(tmp_path)
    bad, good = crafted(own)
    for flag in ("evaluate", "resume"):
        assert_refused(
            algorithm,
            capsys,
            f"--{flag} crafted.pt: not a readable checkpoint (UnpicklingError)",
            **{flag: bad},
        )
        assert not os.path.exists("code_ran")
    # the same checkpoint without the object plays as the run's own checkpoint does
    played = [
        algorithm.train(algorithm.Args(evaluate=path, eval_episodes=2))["eval_returns"]
        for path in (own, good)
    ]
    assert played[0] == played[1] and len(played[0]) == 2


def test_a_checkpoint_that_would_run_code_is_refused_by_the_command_too(checkpoint, tmp_path):
    """The same, as a user meets it: a process of its own, exit status 2, one line, no code run."""
    own = checkpoint("dqn")
    os.chdir(tmp_path)
    bad, good = crafted(own)
    command = [sys.executable, str(ALGORITHMS_DIR / "dqn.py"), "--eval-episodes", "2", "--evaluate"]
    refused = subprocess.run([*command, bad], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout
    assert refused.stderr.count("\n") == 1 and "not a readable checkpoint" in refused.stderr, refused.stderr
    assert not os.path.exists("code_ran") and not os.path.exists("runs") and not os.path.exists("videos")
    evaluated = subprocess.run([*command, good], capture_output=True, text=True, timeout=120)
    assert evaluated.returncode == 0 and "greedy evaluation" in evaluated.stdout, evaluated.stderr


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_the_command_line_parses_into_the_file_s_args(name):
    # every file's flags, as a user types them (the default suite starts four files as scripts, below)
    algorithm = load_algorithm(name)
    parsed = tyro.cli(algorithm.Args, args=["--env-id", env_of(name), "--total-timesteps", "123"])
    assert parsed == algorithm.Args(env_id=env_of(name), total_timesteps=123)


# what the refusal says is checked in-process for every file above; the way out of the process (exit
# status 2, one line, nothing written) is plumbing, the same text in every file: the default suite
# runs this for one file of each kind of learner, -m slow for all
STARTED_AS_SCRIPTS = ("dqn", "a2c", "a3c", "ddpg")


@pytest.mark.parametrize(
    "name",
    [
        name if name in STARTED_AS_SCRIPTS else pytest.param(name, marks=pytest.mark.slow)
        for name in SHORT_RUNS
    ],
)
def test_bad_input_from_the_command_line(name):
    """The same, for real: a process of its own, its exit status, and what it prints."""
    result = subprocess.run(
        [
            sys.executable,
            str(ALGORITHMS_DIR / f"{name}.py"),
            "--env-id",
            WRONG_ENV[name][0],
            "--capture-video",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and WRONG_ENV[name][1] in result.stderr, result.stderr
    assert result.stdout == ""
    assert not os.path.exists("runs") and not os.path.exists("videos")
