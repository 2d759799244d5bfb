"""Shared test set-up: each algorithm file is loaded as a module, and every test runs in a fresh
working directory, so that the `runs/` and `videos/` a run writes belong to that test alone."""

import importlib.util
import os
import sys
import types
from pathlib import Path

import gymnasium as gym
import pytest
import torch

# tests/mutations.py points REFRL_ALGORITHMS at a copy of the folder with one line broken
ALGORITHMS_DIR = Path(os.environ.get("REFRL_ALGORITHMS", Path(__file__).resolve().parents[1] / "algorithms"))

# For each algorithm: the arguments of a short run that still passes through every code path
# (learning, logging, periodic evaluation), used by the smoke and determinism tests.
DQN_SHORT_RUN = dict(total_timesteps=2_000, learning_starts=500, eval_frequency=1_000, eval_episodes=2)
SHORT_RUNS = {
    "dqn": DQN_SHORT_RUN,
    "double_dqn": DQN_SHORT_RUN,
    "dueling_dqn": DQN_SHORT_RUN,
    "per_dqn": DQN_SHORT_RUN,
    "noisy_dqn": DQN_SHORT_RUN,
    "c51": DQN_SHORT_RUN,
    "rainbow": DQN_SHORT_RUN,
    "reinforce": dict(total_timesteps=2_000, num_envs=4, eval_frequency=1_000, eval_episodes=2),
    "actor_critic": dict(total_timesteps=2_048, num_envs=8, eval_frequency=1_024, eval_episodes=2),
    "a2c": dict(total_timesteps=2_048, num_envs=4, num_steps=8, eval_frequency=1_024, eval_episodes=2),
    "ppo": dict(total_timesteps=2_048, num_envs=4, num_steps=16, eval_frequency=1_024, eval_episodes=2),
    "pqn": dict(total_timesteps=2_048, num_envs=4, num_steps=16, eval_frequency=1_024, eval_episodes=2),
    "a3c": dict(
        total_timesteps=2_048, num_workers=2, num_envs=2, num_steps=8, eval_frequency=1_024, eval_episodes=2
    ),
    # continuous actions only: Pendulum, whose episodes last 200 steps
    **dict.fromkeys(
        ("ddpg", "td3", "sac"),
        dict(
            env_id="Pendulum-v1",
            total_timesteps=1_000,
            learning_starts=200,
            eval_frequency=500,
            eval_episodes=2,
        ),
    ),
}

# The files that learn from pixels, run on MinAtar's Breakout, whose games need the `atari` extra: without
# it their tests are not collected (tests/test_pixels.py says so in a skip).
PIXEL_RUNS = {
    "dqn_atari": DQN_SHORT_RUN | dict(env_id="MinAtar/Breakout-v1", buffer_size=1_000, target_network_frequency=100),
    "ppo_atari": dict(
        env_id="MinAtar/Breakout-v1", total_timesteps=2_048, num_envs=4, num_steps=16, eval_frequency=1_024,
        eval_episodes=2,
    ),
    "pqn_atari": dict(
        env_id="MinAtar/Breakout-v1", total_timesteps=2_048, num_envs=4, num_steps=16, num_minibatches=4,
        eval_frequency=1_024, eval_episodes=2,
    ),
}  # fmt: skip
PIXELS = tuple(PIXEL_RUNS)
ATARI_EXTRA = all(importlib.util.find_spec(package) for package in ("ale_py", "minatar", "cv2"))
if ATARI_EXTRA:
    SHORT_RUNS |= PIXEL_RUNS

# The files for continuous actions alone, which run on Pendulum-v1 where the others run on CartPole-v1.
CONTINUOUS = ("ddpg", "td3", "sac")

# The files that learn from a replay buffer: those whose short run says when learning starts.
REPLAY_FILES = [name for name, args in SHORT_RUNS.items() if "learning_starts" in args]

# The files whose plumbing is their own, each tested by a test file of its own: dqn_jax.py trains many
# agents in one JAX program, with a run directory each, and has no torch checkpoint to resume from.
OWN_PLUMBING = {"dqn_jax": "test_dqn_jax.py"}

# The network that acts, as each file's checkpoint stores it: (checkpoint key, class name, the arguments
# that build it for the short run's env, besides hidden_size).
CARTPOLE = dict(obs_dim=4, n_actions=2)
ACTING_NETWORK = {
    "dqn": ("q_network", "QNetwork", CARTPOLE),
    "double_dqn": ("q_network", "QNetwork", CARTPOLE),
    "dueling_dqn": ("q_network", "QNetwork", CARTPOLE),
    "per_dqn": ("q_network", "QNetwork", CARTPOLE),
    "noisy_dqn": ("q_network", "QNetwork", CARTPOLE | dict(sigma_0=0.5)),
    "c51": ("q_network", "QNetwork", CARTPOLE | dict(n_atoms=51, v_min=-100.0, v_max=100.0)),
    "rainbow": (
        "q_network",
        "QNetwork",
        CARTPOLE | dict(dueling=True, noisy=True, sigma_0=0.5, atoms=torch.linspace(-100.0, 100.0, 51)),
    ),
    "pqn": ("q_network", "QNetwork", CARTPOLE),
    "dqn_atari": ("q_network", "QNetwork", dict(obs_shape=(4, 10, 10), n_actions=3, pixel_max=1.0)),
    "ppo_atari": ("agent", "ActorCritic", dict(obs_shape=(4, 10, 10), n_actions=3, pixel_max=1.0)),
    "pqn_atari": ("q_network", "QNetwork", dict(obs_shape=(4, 10, 10), n_actions=3, pixel_max=1.0)),
    "reinforce": ("policy", "Policy", CARTPOLE),
    "actor_critic": ("actor", "Actor", CARTPOLE),
    "a2c": ("agent", "ActorCritic", dict(obs_dim=4, action_space=gym.spaces.Discrete(2))),
    "ppo": ("agent", "ActorCritic", dict(obs_dim=4, action_space=gym.spaces.Discrete(2))),
    "a3c": ("agent", "ActorCritic", dict(obs_dim=4, action_space=gym.spaces.Discrete(2))),
    **{
        name: ("actor", "Actor", dict(obs_dim=3, action_space=gym.make("Pendulum-v1").action_space))
        for name in CONTINUOUS
    },
}

# The files whose runs differ from one run to the next with the same seed: a3c's workers update the
# shared network in whatever order they finish. Tests of equality leave them out.
ASYNCHRONOUS = {"a3c"}
DETERMINISTIC = [name for name in SHORT_RUNS if name not in ASYNCHRONOUS]

# An env each file refuses for its actions (or, a2c, which takes both kinds, for its observations),
# and what the error line says.
WRONG_ENV = {name: ("Pendulum-v1", "discrete action space") for name in SHORT_RUNS} | {
    "a2c": ("Blackjack-v1", "not flat vectors"),
    "ppo": ("Blackjack-v1", "not flat vectors"),
    "a3c": ("Blackjack-v1", "not flat vectors"),
    **{name: ("CartPole-v1", "not a bounded continuous action space") for name in CONTINUOUS},
    **{name: ("CartPole-v1", "not an Atari or MinAtar screen") for name in PIXELS},
}


def load_algorithm(name: str):
    """Import `algorithms/<name>.py`; the files are standalone scripts, not a package. The module is
    registered under its name, and its folder put on the path, so that a3c's spawned workers, which
    import their function by name, find it."""
    spec = importlib.util.spec_from_file_location(name, ALGORITHMS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    if str(ALGORITHMS_DIR) not in sys.path:
        sys.path.append(str(ALGORITHMS_DIR))
    return module


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def no_collection_after_each_video(monkeypatch):
    """gymnasium's RecordVideo (1.2 on) runs gc.collect() when it has written a video, to free the
    frames at once: a few per run in a user's run, but ~0.2 s each in a test process's heap, ~3 s per
    smoke run."""
    no_collection = types.SimpleNamespace(collect=lambda: 0)
    monkeypatch.setattr(gym.wrappers.rendering, "gc", no_collection, raising=False)


def pytest_addoption(parser):
    parser.addoption(
        "--only", metavar="NAME", help="run only the tests of algorithms/NAME.py (tests/mutations.py)"
    )


def pytest_collection_modifyitems(config, items):
    """With --only NAME, keep the tests of one file: those of tests/test_NAME.py, and those parametrized
    with NAME (or with the path of NAME.py)."""
    only = config.getoption("--only")
    if only is None:
        return

    def about(item) -> bool:
        values = item.callspec.params.values() if hasattr(item, "callspec") else ()
        return item.path.stem == f"test_{only}" or any(
            value == only or getattr(value, "stem", None) == only for value in values
        )

    config.hook.pytest_deselected(items=[item for item in items if not about(item)])
    items[:] = [item for item in items if about(item)]
