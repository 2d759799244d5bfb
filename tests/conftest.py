"""Shared test set-up: each algorithm file is loaded as a module, and every test runs in a fresh
working directory, so that the `runs/` and `videos/` a run writes belong to that test alone."""

import importlib.util
from pathlib import Path

import pytest

ALGORITHMS_DIR = Path(__file__).resolve().parents[1] / "algorithms"

# For each algorithm: the arguments of a short run that still passes through every code path
# (learning, logging, periodic evaluation), used by the smoke and determinism tests.
DQN_SHORT_RUN = dict(total_timesteps=2_000, learning_starts=500, eval_frequency=1_000, eval_episodes=2)
SHORT_RUNS = {
    "dqn": DQN_SHORT_RUN,
    "double_dqn": DQN_SHORT_RUN,
    "dueling_dqn": DQN_SHORT_RUN,
    "per_dqn": DQN_SHORT_RUN,
    "reinforce": dict(total_timesteps=2_000, num_envs=4, eval_frequency=1_000, eval_episodes=2),
    "actor_critic": dict(total_timesteps=2_048, num_envs=8, eval_frequency=1_024, eval_episodes=2),
}

# The files whose plumbing is their own, each tested by a test file of its own: dqn_jax.py trains many
# agents in one JAX program, with a run directory each, and has no torch checkpoint to resume from.
OWN_PLUMBING = {"dqn_jax": "test_dqn_jax.py"}

# The network that acts, as each file's checkpoint stores it: (checkpoint key, class name).
ACTING_NETWORK = {
    "dqn": ("q_network", "QNetwork"),
    "double_dqn": ("q_network", "QNetwork"),
    "dueling_dqn": ("q_network", "QNetwork"),
    "per_dqn": ("q_network", "QNetwork"),
    "reinforce": ("policy", "Policy"),
    "actor_critic": ("actor", "Actor"),
}


def load_algorithm(name: str):
    """Import `algorithms/<name>.py`; the files are standalone scripts, not a package."""
    spec = importlib.util.spec_from_file_location(name, ALGORITHMS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
