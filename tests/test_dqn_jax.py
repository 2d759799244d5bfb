"""dqn_jax.py: its CartPole steps as gymnasium's, its agents are independent runs, it learns, and it
refuses bad input as every file does. Skipped where the [jax] extra is not installed."""

import os
import pickle
import signal
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402
from conftest import ALGORITHMS_DIR, load_algorithm  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

dqn_jax = load_algorithm("dqn_jax")
SHORT_RUN = dict(total_timesteps=2_000, learning_starts=500, chunk_steps=500, eval_episodes=2)


def balancing(obs) -> int:
    """A controller that keeps the pole up for all 500 steps, to reach the time limit."""
    x, x_dot, theta, theta_dot = obs
    return int(0.05 * x + 0.2 * x_dot + theta + theta_dot > 0)


@pytest.mark.parametrize("policy", ["random", "balancing"])
def test_cartpole_steps_as_gymnasiums(policy):
    """From gymnasium's state, with the same action, one step of each: the same observation, reward,
    termination and truncation, at every step of 20 episodes, to their ends (the pole falling, the
    cart leaving the track, or the 500-step limit)."""
    env = gym.make("CartPole-v1")
    step = jax.jit(dqn_jax.cartpole_step)
    rng = np.random.default_rng(0)
    ends = set()
    for episode in range(20):
        obs, _ = env.reset(seed=episode)
        cartpole = dqn_jax.cartpole_reset(jax.random.key(0))
        done, steps = False, 0
        while not done:
            action = int(rng.integers(2)) if policy == "random" else balancing(obs)
            # gymnasium keeps its state in float64; the JAX one is float32, and starts each step from it
            cartpole = cartpole._replace(state=jnp.asarray(env.unwrapped.state, dtype=jnp.float32))
            obs, reward, terminated, truncated, _ = env.step(action)
            cartpole, jax_obs, jax_reward, jax_terminated, jax_truncated = step(cartpole, action)
            np.testing.assert_allclose(np.asarray(jax_obs), obs, rtol=1e-5, atol=1e-6)
            assert (float(jax_reward), bool(jax_terminated), bool(jax_truncated)) == (
                reward,
                terminated,
                truncated,
            )
            done, steps = terminated or truncated, steps + 1
        assert int(cartpole.steps) == steps
        ends.add("truncated" if truncated else "terminated")
    assert ends == ({"terminated"} if policy == "random" else {"truncated"})


def test_an_episode_that_ends_restarts_on_the_same_step():
    """The step returns the true last observation and the episode's return and length; the env is
    then a new episode's first state."""
    falling = dqn_jax.CartPole(jnp.array([0.0, 0.0, 0.2, 2.0]), jnp.int32(41), jnp.float32(41))
    env, obs, reward, terminated, truncated, episode_return, episode_length = dqn_jax.cartpole_autoreset_step(
        falling, jnp.int32(1), jax.random.key(3)
    )
    assert bool(terminated) and not bool(truncated)
    assert float(obs[2]) > dqn_jax.THETA_LIMIT  # the state where the pole fell, not the new start
    assert (float(episode_return), int(episode_length)) == (42.0, 42)
    assert int(env.steps) == 0 and float(env.episode_return) == 0.0
    assert np.all(np.abs(np.asarray(env.state)) <= 0.05)

    going_on = dqn_jax.CartPole(jnp.zeros(4), jnp.int32(10), jnp.float32(10))
    env, obs, *_ = dqn_jax.cartpole_autoreset_step(going_on, jnp.int32(1), jax.random.key(3))
    assert int(env.steps) == 11 and np.array_equal(np.asarray(env.state), np.asarray(obs))


def episode_returns(run_dir):
    events = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    events.Reload()
    return events, [event.value for event in events.Scalars("charts/episodic_return")]


def test_each_agent_is_a_run_of_its_own():
    """Two agents: two run directories with dqn.py's tags, different networks and different episodes
    (each has its own key), and --save-model parameters that play as the run's evaluation did."""
    summary = dqn_jax.train(dqn_jax.Args(num_seeds=2, save_model=True, **SHORT_RUN))
    assert len(summary["run_dirs"]) == 2 and all(os.path.isdir(d) for d in summary["run_dirs"])
    (events, first), (_, second) = (episode_returns(d) for d in summary["run_dirs"])
    tags = set(events.Tags()["scalars"])
    assert {"charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/epsilon"} <= tags
    assert {"losses/td_loss", "losses/q_values", "eval/episodic_return", "eval/predicted_value"} <= tags
    assert first != second

    saved = []
    for path in summary["model_paths"]:
        with open(path, "rb") as f:
            saved.append(pickle.load(f))
    assert [s["args"]["seed"] for s in saved] == [1, 2] and saved[0]["algorithm"] == "dqn_jax"
    assert not np.array_equal(saved[0]["params"][0][0], saved[1]["params"][0][0])
    stacked = jax.tree.map(lambda *arrays: np.stack(arrays), *(s["params"] for s in saved))
    returns = dqn_jax.evaluate(stacked, [100_001, 100_002], 2, 0.99)[0]
    assert returns == summary["eval_returns"]


def test_three_agents_learn_cartpole():
    """Regression: three agents in one call, each greedy ≥ 475 in gymnasium's CartPole-v1. Seeds 4-6:
    seed 3 is the one of seeds 1-40 that does not solve (its Q-values diverge; RESULTS.md), a failure
    of dqn.py's recipe that is counted in the solve rate, not hidden; this test guards what solves."""
    summary = dqn_jax.train(dqn_jax.Args(num_seeds=3, seed=4))
    assert all(np.mean(returns) >= 475 for returns in summary["eval_returns"]), summary["eval_returns"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"num_seeds": 0}, "--num-seeds must be positive, not 0"),
        ({"env_id": "Acrobot-v1"}, "--env-id Acrobot-v1: this file trains on CartPole-v1 only"),
        ({"env_id": "NoSuchEnv-v0"}, "--env-id NoSuchEnv-v0"),
        ({"gamma": 1.5}, "--gamma must be in [0, 1], not 1.5"),
        ({"chunk_steps": 0}, "--chunk-steps must be positive, not 0"),
        ({"batch_size": 256, "buffer_size": 100}, "--batch-size 256 is larger than --buffer-size 100"),
        ({"exp_name": "my/exp"}, "--exp-name 'my/exp' must be a name, not a path"),
    ],
)
def test_bad_input(args, message, capsys):
    with pytest.raises(SystemExit) as refused:
        dqn_jax.train(dqn_jax.Args(**args))
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("dqn_jax.py: error: ") and message in error, error
    assert not os.path.exists("runs")


def test_cuda_without_a_gpu_trains_on_the_cpu_and_says_so(capsys):
    if any(device.platform == "gpu" for device in jax.devices()):
        pytest.skip("a GPU is here")
    dqn_jax.train(dqn_jax.Args(cuda=True, **SHORT_RUN))
    assert "notice: --cuda given but JAX finds no GPU" in capsys.readouterr().out


def test_sigterm_stops_after_the_chunk_and_saves_the_parameters():
    """A stopped run leaves its logs and every agent's parameters readable, exit status 128 + 15."""
    process = subprocess.Popen(
        [sys.executable, str(ALGORITHMS_DIR / "dqn_jax.py"), "--num-seeds", "2", "--chunk-steps", "500",
         "--no-stop-when-solved"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in process.stdout:  # the first progress line: the loop is running
        if line.startswith("step"):
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "stopped by SIGTERM" in output
    run_dirs = sorted(os.listdir("runs"))
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        with open(f"runs/{run_dir}/dqn_jax.params", "rb") as f:
            saved = pickle.load(f)
        assert 0 < saved["global_step"] < 100_000
        assert episode_returns(f"runs/{run_dir}")[1]
