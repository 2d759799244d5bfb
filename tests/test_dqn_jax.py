"""dqn_jax.py: its CartPole steps as gymnasium's; its learning step by hand, on a chain of two steps in
place of CartPole, with the network a table (the TD target, the loss's gradient, what is stored and learned
from, Polyak averaging, ε-greedy); its agents are independent runs, it learns, and it refuses bad input as
every file does. Skipped where the [jax] extra is not installed."""

import os
import pickle
import signal
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402
from conftest import ALGORITHMS_DIR, load_algorithm  # noqa: E402
from probes import huber_gradient  # noqa: E402
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


# ---- the learning step, by hand ----
# train() runs on the chain of tests/probes.py written in jax.numpy in place of its CartPole (states
# 0 → 1 → 2, whatever the action, observed one-hot in CartPole's four numbers; leaving s earns s + 1; the
# episode terminates in state 2), with a Q-network of one linear layer, Q(s, ·) = W[s] + b: a table, with b
# at 0. Q and Q_TARGET are the online and the target network's tables (rows: states 0 to 3; state 3 is
# never visited, state 2 never learned from, and its target values would show in a target that bootstraps
# from a termination). The online network prefers action 1 in state 1, the target network action 0.
Q = [[1.5, 1.2], [1.7, 3.5], [0.0, 0.0], [0.0, 0.0]]
Q_TARGET = [[0.9, 0.3], [1.8, 1.5], [7.0, 9.0], [0.0, 0.0]]
# γ = 0.5. From state 0: r = 1, and the episode goes on to state 1: y = 1 + γ max_a' Q⁻(1, a') = 1 + 0.5 · 1.8
# = 1.9. From state 1: r = 2, and the episode terminates: y = 2. With one transition a batch, the gradient
# of the Huber loss is nonzero in W[s, a] alone, and is there δ = Q(s, a) − y where |δ| ≤ κ, and ±κ beyond:
# for (1, 1), δ = 3.5 − 2 = 1.5, within the default κ = 10, beyond a κ of 1; a κ of 0.25 is exceeded by all four.
TD_ERRORS = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9, (1, 0): 1.7 - 2.0, (1, 1): 3.5 - 2.0}
# The same chain cut by a time limit in state 1: its one transition is truncated, not terminated, and
# bootstraps from state 1, y = 1.9 (not from the first state of the next episode, where the env goes on).
TD_ERRORS_CUT = {(0, 0): 1.5 - 1.9, (0, 1): 1.2 - 1.9}

# One transition a batch, learning from the first step on, every step, with the target network's τ so
# small that it keeps its values; 40 steps, each agent on one env.
JAX_PROBE = dict(
    batch_size=1,
    buffer_size=100,
    learning_starts=0,
    train_frequency=1,
    total_timesteps=40,
    tau=1e-9,
    gamma=0.5,
    eval_episodes=1,
)


def probe(monkeypatch, time_limit: int = 1_000, **args) -> list:
    """Run train() on the chain with the tables, as above, with `args` besides JAX_PROBE. train() starts the
    online network and the target network from the same parameters (the target a copy): both start from
    Q_TARGET, and the optimizer, in place of Adam, moves the online network to Q at its first update and
    leaves it there (a learning rate of 0). Every later update's gradient is then taken at Q, with the
    target network at Q_TARGET, moved by Polyak averaging alone. Returns those updates, in order: for each,
    the number of updates before it and the gradient of W."""
    recorded = []

    def chain_reset(key):
        return dqn_jax.CartPole(jnp.eye(4)[0], jnp.int32(0), jnp.float32(0))

    def chain_step(env, action):
        state = env.state.argmax() + 1
        obs = jnp.eye(4)[state]
        reward = state.astype(jnp.float32)
        env = dqn_jax.CartPole(obs, env.steps + 1, env.episode_return + reward)
        return env, obs, reward, state == 2, env.steps >= time_limit

    def one_layer(key, obs_dim, n_actions, hidden_size):
        return [(jnp.array(Q_TARGET), jnp.zeros(2))]

    def init(params):
        # the updates so far, and the move from where the online network starts to Q
        to_q = [(jnp.array(Q) - w, -b) for w, b in params]
        return jnp.int32(0), to_q

    def record(count, w):
        recorded.append((int(count), np.asarray(w)))

    def update(gradients, state, params=None):
        count, to_q = state
        jax.debug.callback(record, count, gradients[0][0])  # W's gradient, out of the compiled loop
        moves = jax.tree.map(lambda move: jnp.where(count == 0, move, 0.0), to_q)
        return moves, (count + 1, to_q)

    probe_optimizer = optax.GradientTransformation(init, update)
    monkeypatch.setattr(dqn_jax, "cartpole_reset", chain_reset)
    monkeypatch.setattr(dqn_jax, "cartpole_step", chain_step)
    monkeypatch.setattr(dqn_jax, "init_q_network", one_layer)
    monkeypatch.setattr(optax, "adam", lambda learning_rate: probe_optimizer)
    # One agent per device: with fewer, train() fills a device with agents that never learn, whose updates
    # it throws away, and whose gradients would be recorded as well. Each agent plays the chain of its own.
    dqn_jax.train(dqn_jax.Args(**(JAX_PROBE | dict(num_seeds=len(jax.devices())) | args)))
    # the updates arrive in any order
    return sorted(((count, w) for count, w in recorded if count > 0), key=lambda update: update[0])


def learned_from(w) -> tuple:
    """The one entry (state, action) of W that the gradient touches, and the gradient there."""
    entries = np.argwhere(w)
    assert len(entries) == 1, f"an update touched {len(entries)} entries of the table, not one"
    state, action = entries[0]
    return (int(state), int(action)), float(w[state, action])


@pytest.mark.parametrize(("time_limit", "expected"), [(1_000, TD_ERRORS), (1, TD_ERRORS_CUT)])
@pytest.mark.parametrize("huber", [{}, dict(huber_delta=1.0), dict(huber_delta=0.25)])
def test_each_update_learns_the_td_error_of_a_transition(monkeypatch, time_limit, expected, huber):
    updates = probe(monkeypatch, time_limit, start_e=1.0, end_e=1.0, **huber)  # acting at random throughout
    # 40 steps, an update each, of which the first only moves the online network to Q; for each agent
    assert len(updates) == 39 * len(jax.devices())
    learned = [learned_from(w) for _, w in updates]
    for entry, gradient in learned:
        assert entry in expected, entry
        assert gradient == pytest.approx(huber_gradient(expected[entry], **huber), abs=1e-6), entry
    assert {entry for entry, _ in learned} == set(expected)  # every one was learned from


def test_greedy_actions_are_the_online_networks(monkeypatch):
    # ε = 0: the action taken is argmax_a Q(s, a), 0 in state 0 and 1 in state 1 (the target network's
    # would be 0 there); the first step acts before the first update, from Q_TARGET, which agrees in state 0
    updates = probe(monkeypatch, start_e=0.0, end_e=0.0)
    assert len(updates) == 39 * len(jax.devices())
    assert {learned_from(w)[0] for _, w in updates} == {(0, 0), (1, 1)}


def test_the_target_network_follows_by_polyak_averaging(monkeypatch):
    # θ⁻ ← τ θ + (1 − τ) θ⁻ after each update, with θ = Q from the first update on: after c updates,
    # θ⁻ = Q + (1 − τ)^c (Q_TARGET − Q), and an update from state 0 after them has y = 1 + γ max_a' θ⁻(1, a'),
    # and the Huber loss's gradient δ = Q(0, a) − y (|δ| < 2, within κ)
    updates = probe(monkeypatch, tau=0.02, start_e=1.0, end_e=1.0)
    q, q_target = np.array(Q), np.array(Q_TARGET)
    checked = 0
    for count, w in updates:
        (state, action), gradient = learned_from(w)
        if state == 0:  # from state 1 the episode terminates: y = 2, whatever the target network
            target = q + 0.98**count * (q_target - q)
            td_error = q[0, action] - (1 + 0.5 * target[1].max())
            assert gradient == pytest.approx(td_error, abs=1e-5), count
            checked += 1
    assert checked > 10


def test_epsilon_falls_linearly_to_its_end():
    # ε = start_e + (end_e − start_e) min(1, t / (exploration_fraction · total_timesteps)), logged every 100
    # steps: with 1 → 0.2 over 0.5 · 1,000 = 500 steps, ε falls by 0.16 every 100 steps, to 0.2 at step 500
    args = dqn_jax.Args(
        total_timesteps=1_000, learning_starts=0, exploration_fraction=0.5, start_e=1.0, end_e=0.2,
        chunk_steps=500, eval_episodes=1, stop_when_solved=False,
    )  # fmt: skip
    events = EventAccumulator(dqn_jax.train(args)["run_dirs"][0], size_guidance={"scalars": 0})
    events.Reload()
    logged = events.Scalars("charts/epsilon")
    assert [event.step for event in logged] == [100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000]
    assert [event.value for event in logged] == pytest.approx([0.84, 0.68, 0.52, 0.36] + [0.2] * 6)


def test_the_stop_rule_checks_check_episodes_greedy_episodes_then_evaluates_eval_episodes(monkeypatch):
    # CartPole's threshold at 1, which every episode reaches: each agent is solved in training once its
    # first 10 episodes end, and passes its check
    monkeypatch.setattr(gym.spec("CartPole-v1"), "reward_threshold", 1)
    played = []  # (agents, episodes) of each greedy evaluation, in its order
    real_evaluate = dqn_jax.evaluate

    def evaluate(params, seeds, eval_episodes, *arguments):
        played.append((seeds, eval_episodes))
        return real_evaluate(params, seeds, eval_episodes, *arguments)

    monkeypatch.setattr(dqn_jax, "evaluate", evaluate)
    dqn_jax.train(dqn_jax.Args(num_seeds=2, **SHORT_RUN | dict(check_episodes=3)))
    # the check's seeds, then the final evaluation's
    assert played == [([1 + 200_000, 2 + 200_000], 3), ([1 + 100_000, 2 + 100_000], 2)]


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
    """Regression: three agents in one call, seeds 1-3, each greedy ≥ 475 in gymnasium's CartPole-v1."""
    summary = dqn_jax.train(dqn_jax.Args(num_seeds=3, seed=1))
    assert all(np.mean(returns) >= 475 for returns in summary["eval_returns"]), summary["eval_returns"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"num_seeds": 0}, "--num-seeds must be positive, not 0"),
        ({"huber_delta": -1.0}, "--huber-delta must be positive, not -1.0"),
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
