"""Deep Q-Network (DQN) in JAX: the whole training loop one compiled program, many seeds at once.

Mnih et al., "Human-level control through deep reinforcement learning", Nature 2015.

The same DQN as dqn.py, with the same defaults: ε-greedy acting on Q_θ, a replay buffer, and for
a mini-batch of transitions (s, a, r, s', d) drawn uniformly from it, every `train_frequency` steps:

    y    = r + γ (1 − d) max_a' Q_θ⁻(s', a')                  the TD target
    δ    = Q_θ(s, a) − y                                      the TD error
    L(θ) = mean over the batch of Huber_κ(δ)                  the loss
    θ    ← Adam(θ, ∇_θ L)
    θ⁻   ← τ θ + (1 − τ) θ⁻                                   after every update (Polyak)

d is 1 only when the episode *terminated* at s'; a truncation (the time limit) bootstraps. dqn.py
explains each piece; this file is about how it runs. One step of one agent, `agent_step(agent, t)`,
is a pure function of arrays: act, step the environment, store the transition, and learn when
t says so. `jax.vmap` maps it over the agents (the leading axis of every array of `agent`), and
`jax.lax.scan` repeats it `chunk_steps` times; XLA compiles the two into one program, with no
Python between two steps. Python comes back between chunks, to log each agent's episodes to its
own run directory, print the progress and apply the stop rule.

What differs from dqn.py, and why:
- The environment is written in jax.numpy (`cartpole_reset`, `cartpole_step`): gymnasium's
  CartPole-v1 is Python, which a compiled loop cannot call. Same constants, Euler step,
  termination bounds and 500-step time limit (tests/test_dqn_jax.py steps both side by side). So
  this file trains on CartPole-v1 only. The greedy evaluations are played in gymnasium's own
  CartPole-v1, the same test as dqn.py's.
- An episode that ends restarts on the same step: the transition stored has the true last s',
  and the env goes on from a new start (gymnasium's vector envs spend the next step on the reset,
  which dqn.py keeps out of the buffer).
- Randomness is explicit: agent i has the key `jax.random.key(seed + i)`, split for its network's
  initialisation, its envs' starts, ε-greedy and its batches. No two agents share a key: they are
  independent runs, each with its own run directory.
- Arrays have a fixed shape inside a compiled program, so the buffer is always `buffer_size` long,
  and t alone says how much of it is filled and where the next transition goes.
- The stop rule applies at the end of a chunk. An agent whose last 10 training returns reach the
  threshold plays a greedy check in gymnasium's CartPole-v1; if every episode reaches it too, the
  agent is solved and stops learning: its network is frozen while the others go on (vmap runs
  every agent's step, but a frozen agent's update is thrown away). The run ends when every agent
  is solved, or at the budget.
- The agents are spread over the devices: on the CPU JAX is given one device per core, and each
  runs its share of the agents (padded with agents that never learn and are never logged, so that
  the shares are equal); with --cuda, the GPU runs them all.

Run:
    python algorithms/dqn_jax.py --num-seeds 5
    python algorithms/dqn_jax.py --num-seeds 100 --cuda
    tensorboard --logdir runs
"""

import functools
import math
import os
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__).removesuffix(".py")
    """the name of this experiment"""
    seed: int = 1
    """seed of the first agent; agent i has seed `seed + i`"""
    num_seeds: int = 1
    """the number of independent agents trained together in one compiled program"""
    cuda: bool = False
    """if toggled, train on the GPU when JAX finds one"""
    capture_video: bool = False
    """if toggled, record videos of each agent's final greedy evaluation into the `videos` folder"""
    save_model: bool = False
    """if toggled, save each agent's parameters into `runs/{run_name}/{exp_name}.params`"""
    env_id: str = "CartPole-v1"
    """the id of the environment: CartPole-v1, the one written in JAX below"""
    total_timesteps: int = 100_000
    """total environment steps of each agent, all its environments counted"""
    num_envs: int = 1
    """the number of parallel game environments of each agent"""
    eval_episodes: int = 10
    """the number of greedy episodes of each evaluation"""
    stop_when_solved: bool = True
    """stop an agent once its last 10 training returns, then a greedy check, reach the env's reward threshold"""
    check_episodes: int = 10
    """the number of greedy episodes of the stop rule's check; every one must reach the reward threshold"""
    # a return to Python costs the device a pause while the chunk is logged: 1,000 steps keep that near
    # 4% of the run (5,000: slightly less), and an agent stops within 1,000 steps of being solved
    chunk_steps: int = 1_000
    """the compiled loop returns to Python, to log and apply the stop rule, every this many steps of each agent"""

    # Algorithm specific arguments
    learning_rate: float = 2e-3
    """the learning rate of the optimizer"""
    buffer_size: int = 50_000
    """the replay memory buffer size"""
    gamma: float = 0.99
    """the discount factor gamma"""
    tau: float = 0.02
    """the target network update rate: θ⁻ ← τ θ + (1 − τ) θ⁻ after every update"""
    huber_delta: float = 10.0
    """κ, the size of TD error beyond which the Huber loss grows linearly, not quadratically"""
    batch_size: int = 128
    """the batch size of samples from the replay memory"""
    hidden_size: int = 128
    """the width of the two hidden layers of the Q-network"""
    start_e: float = 1.0
    """the starting epsilon for exploration"""
    end_e: float = 0.0
    """the ending epsilon for exploration"""
    exploration_fraction: float = 0.04  # 4,000 steps of the default budget
    """the fraction of `total_timesteps` it takes for epsilon to go from `start_e` to `end_e`"""
    learning_starts: int = 1_000
    """learning starts once the replay buffer holds more than this many transitions"""
    train_frequency: int = 4
    """do one gradient step every this many vector-environment steps"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "num_seeds": "(0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)",
    "eval_episodes": "(0, inf)", "check_episodes": "(0, inf)", "chunk_steps": "(0, inf)",
    "learning_rate": "(0, inf)", "buffer_size": "(0, inf)", "gamma": "[0, 1]", "tau": "(0, 1]",
    "huber_delta": "(0, inf)",
    "batch_size": "(0, inf)", "hidden_size": "(0, inf)", "start_e": "[0, 1]", "end_e": "[0, 1]",
    "exploration_fraction": "(0, 1]", "learning_starts": "[0, inf)", "train_frequency": "(0, inf)",
}  # fmt: skip


def unmet_requirement(args: Args, env: gym.Env) -> str | None:
    """What this file cannot run besides BOUNDS, as the line that says why; None when it can."""
    if args.env_id != "CartPole-v1":
        return f"--env-id {args.env_id}: this file trains on CartPole-v1 only, the env it writes in JAX"
    if args.chunk_steps < args.num_envs:
        return f"--chunk-steps {args.chunk_steps} is less than one step of the --num-envs {args.num_envs}"
    if args.batch_size > args.buffer_size:
        return f"--batch-size {args.batch_size} is larger than --buffer-size {args.buffer_size}"
    if args.buffer_size <= args.learning_starts:
        return (
            f"--buffer-size {args.buffer_size} must be larger than --learning-starts {args.learning_starts}: "
            "learning starts once the buffer holds more than that"
        )
    if args.learning_starts >= args.total_timesteps:
        return f"--learning-starts {args.learning_starts} leaves no step to learn in --total-timesteps {args.total_timesteps}"
    return None


def make_env(env_id: str, video_folders: list[str | None]):
    """gymnasium's own `env_id`, one copy per agent, for the greedy evaluations.

    The copies reset on the step on which their episode ends (gymnasium's same-step autoreset):
    the observation returned is then the first of the next episode. A copy with a video folder
    records some of its episodes there (the 1st, 2nd, 9th…, gymnasium's default).
    """

    def make_one(video_folder):
        if video_folder is None:
            return gym.make(env_id)
        return gym.wrappers.RecordVideo(gym.make(env_id, render_mode="rgb_array"), video_folder)

    return gym.vector.SyncVectorEnv(
        [functools.partial(make_one, folder) for folder in video_folders],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


# ---- CartPole-v1 in jax.numpy, as gymnasium writes it (gymnasium/envs/classic_control/cartpole.py) ----
GRAVITY, MASS_CART, MASS_POLE, HALF_POLE_LENGTH, FORCE_MAG, DT = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
X_LIMIT, THETA_LIMIT, TIME_LIMIT = 2.4, 12 * 2 * math.pi / 360, 500


class CartPole(NamedTuple):
    """One CartPole in the middle of an episode."""

    state: jax.Array  # (x, ẋ, θ, θ̇): the cart's position and velocity, the pole's angle and angular velocity
    steps: jax.Array  # the steps taken in this episode, for the time limit
    episode_return: jax.Array  # the rewards summed over this episode so far


def cartpole_reset(key: jax.Array) -> CartPole:
    """A new episode: each of x, ẋ, θ, θ̇ uniform in [−0.05, 0.05)."""
    return CartPole(jax.random.uniform(key, (4,), minval=-0.05, maxval=0.05), jnp.int32(0), jnp.float32(0))


def cartpole_step(env: CartPole, action: jax.Array):
    """Push the cart left (action 0) or right (1) for one Euler step of DT seconds.

    Returns the env after the step, the observation, the reward (1 for every step, the last
    included), whether the pole fell or the cart left the track (terminated), and whether the
    episode reached its 500th step (truncated; on the 500th step both can be true, as in gymnasium).
    """
    x, x_dot, theta, theta_dot = env.state
    force = jnp.where(action == 1, FORCE_MAG, -FORCE_MAG)
    cos_theta, sin_theta = jnp.cos(theta), jnp.sin(theta)
    total_mass = MASS_CART + MASS_POLE
    temp = (force + MASS_POLE * HALF_POLE_LENGTH * theta_dot**2 * sin_theta) / total_mass
    theta_acc = (GRAVITY * sin_theta - cos_theta * temp) / (
        HALF_POLE_LENGTH * (4.0 / 3.0 - MASS_POLE * cos_theta**2 / total_mass)
    )
    x_acc = temp - MASS_POLE * HALF_POLE_LENGTH * theta_acc * cos_theta / total_mass
    state = jnp.stack(
        [x + DT * x_dot, x_dot + DT * x_acc, theta + DT * theta_dot, theta_dot + DT * theta_acc]
    )
    terminated = (jnp.abs(state[0]) > X_LIMIT) | (jnp.abs(state[2]) > THETA_LIMIT)
    truncated = env.steps + 1 >= TIME_LIMIT
    reward = jnp.float32(1.0)
    return CartPole(state, env.steps + 1, env.episode_return + reward), state, reward, terminated, truncated


def cartpole_autoreset_step(env: CartPole, action: jax.Array, key: jax.Array):
    """`cartpole_step`, then a new episode (from `key`) where this one ended. The observation
    returned is the true last one; the env's state is the new episode's first."""
    env, obs, reward, terminated, truncated = cartpole_step(env, action)
    ended = terminated | truncated
    env_after = jax.tree.map(lambda new, old: jnp.where(ended, new, old), cartpole_reset(key), env)
    return env_after, obs, reward, terminated, truncated, env.episode_return, env.steps


# ---- networks ----
def init_q_network(key: jax.Array, obs_dim: int, n_actions: int, hidden_size: int) -> list:
    """θ: [(W, b)] of three layers, each drawn as torch's nn.Linear draws it (dqn.py's network):
    uniform in ±1/√fan_in."""
    sizes = [obs_dim, hidden_size, hidden_size, n_actions]
    params = []
    for layer_key, fan_in, fan_out in zip(jax.random.split(key, 3), sizes[:-1], sizes[1:]):
        w_key, b_key = jax.random.split(layer_key)
        bound = 1 / math.sqrt(fan_in)
        w = jax.random.uniform(w_key, (fan_in, fan_out), minval=-bound, maxval=bound)
        b = jax.random.uniform(b_key, (fan_out,), minval=-bound, maxval=bound)
        params.append((w, b))
    return params


def q_network(params: list, obs: jax.Array) -> jax.Array:
    """Q_θ(s, ·): observations in (…, obs_dim), one value per action out (…, n_actions)."""
    for w, b in params[:-1]:
        obs = jax.nn.relu(obs @ w + b)
    w, b = params[-1]
    return obs @ w + b


# ---- storage ----
class ReplayBuffer(NamedTuple):
    """A ring buffer of transitions (s, a, r, s', d), arrays of fixed length `buffer_size`."""

    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array
    next_obs: jax.Array
    terminations: jax.Array


def buffer_init(buffer_size: int, obs_dim: int) -> ReplayBuffer:
    zeros = functools.partial(jnp.zeros, dtype=jnp.float32)
    return ReplayBuffer(
        zeros((buffer_size, obs_dim)), jnp.zeros(buffer_size, jnp.int32), zeros(buffer_size),
        zeros((buffer_size, obs_dim)), zeros(buffer_size),
    )  # fmt: skip


class Agent(NamedTuple):
    """Everything one agent carries from one step to the next: the scan's carry, with a leading
    axis of length num_seeds when vmapped."""

    params: list  # θ
    target_params: list  # θ⁻
    opt_state: optax.OptState
    buffer: ReplayBuffer
    envs: CartPole  # num_envs of them, stacked
    key: jax.Array
    learning: jax.Array  # False once the agent is solved (or diverged): its updates are thrown away


# each agent's network on its own observations: the agents' parameters stacked on a leading axis
greedy_q_values = jax.jit(jax.vmap(q_network))


def evaluate(params: list, seeds: list[int], eval_episodes: int, gamma: float, video_folders=None):
    """Play `eval_episodes` greedy episodes (ε = 0) with each agent in gymnasium's own CartPole-v1.

    `params` holds the agents' networks stacked (a leading axis, one per agent), and `seeds` one
    seed per agent, for the first reset of its env: every evaluation of an agent starts from the
    same states. Returns per agent, as dqn.py's evaluate does, each episode's undiscounted return,
    the value the network predicted for its first state, max_a Q(s_0, a), and the discounted
    return that followed, Σ_t γ^t r_t.
    """
    envs = make_env("CartPole-v1", video_folders or [None] * len(seeds))
    obs, _ = envs.reset(seed=seeds)
    returns, predicted, discounted = ([[] for _ in seeds] for _ in range(3))
    episode_return, discounted_return, discount = (
        np.zeros(len(seeds)),
        np.zeros(len(seeds)),
        np.ones(len(seeds)),
    )
    starting = np.ones(len(seeds), dtype=bool)
    # an agent that has played its episodes plays on until the slowest is done; those are not counted
    while min(len(agent_returns) for agent_returns in returns) < eval_episodes:
        q = np.asarray(greedy_q_values(params, obs))
        for i in np.flatnonzero(starting):
            predicted[i].append(float(q[i].max()))
        obs, rewards, terminations, truncations, _ = envs.step(q.argmax(axis=1))
        episode_return += rewards
        discounted_return += discount * rewards
        discount *= gamma
        starting = terminations | truncations
        for i in np.flatnonzero(starting):
            returns[i].append(float(episode_return[i]))
            discounted[i].append(float(discounted_return[i]))
        episode_return[starting], discounted_return[starting], discount[starting] = 0.0, 0.0, 1.0
    envs.close()
    return tuple(
        [values[:eval_episodes] for values in per_agent] for per_agent in (returns, predicted, discounted)
    )


def train(args: Args) -> dict:
    run = Run(args)  # refuses bad input, picks the device; one run directory and writer per agent
    obs_dim, n_actions = 4, 2  # CartPole's
    optimizer = optax.adam(args.learning_rate)
    num_iterations = args.total_timesteps // args.num_envs
    exploration_steps = args.exploration_fraction * args.total_timesteps

    def init_agent(seed):
        network_key, envs_key, key = jax.random.split(jax.random.key(seed), 3)
        params = init_q_network(network_key, obs_dim, n_actions, args.hidden_size)
        envs = jax.vmap(cartpole_reset)(jax.random.split(envs_key, args.num_envs))
        buffer = buffer_init(args.buffer_size, obs_dim)
        target_params = jax.tree.map(jnp.copy, params)  # θ⁻ ← θ
        return Agent(
            params, target_params, optimizer.init(params), buffer, envs, key, learning=jnp.bool_(True)
        )

    # ---- learning ----
    def td_loss(params, target_params, batch):
        obs, actions, rewards, next_obs, terminations = batch
        next_q = q_network(target_params, next_obs).max(axis=1)
        td_target = rewards + args.gamma * (1 - terminations) * next_q
        q_taken = jnp.take_along_axis(q_network(params, obs), actions[:, None], axis=1)[:, 0]
        losses = optax.huber_loss(q_taken, jax.lax.stop_gradient(td_target), delta=args.huber_delta)
        return losses.mean(), q_taken

    def learn(networks, buffer, key, filled, learning):
        params, target_params, opt_state = networks
        idx = jax.random.randint(key, (args.batch_size,), 0, filled)  # uniform over what the buffer holds
        batch = jax.tree.map(lambda array: array[idx], buffer)
        (loss, q_taken), grads = jax.value_and_grad(td_loss, has_aux=True)(params, target_params, batch)
        updates, opt_state = optimizer.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        target_params = optax.incremental_update(params, target_params, args.tau)  # θ⁻ ← τ θ + (1 − τ) θ⁻
        # vmap computes every agent's update alike; a solved agent's is thrown away here
        updated = jax.tree.map(
            lambda new, old: jnp.where(learning, new, old), (params, target_params, opt_state), networks
        )
        return updated, loss, q_taken.mean()

    def no_learning(networks, buffer, key, filled, learning):
        return networks, jnp.float32(jnp.nan), jnp.float32(jnp.nan)

    # ---- one step of one agent, and the compiled loop over chunk_steps steps of all of them ----
    def agent_step(agent: Agent, iteration: jax.Array):
        global_step = iteration * args.num_envs
        key, explore_key, action_key, reset_key, batch_key = jax.random.split(agent.key, 5)

        # ε-greedy, ε falling linearly from start_e to end_e over the first exploration_steps
        epsilon = args.start_e + (args.end_e - args.start_e) * jnp.minimum(
            1.0, global_step / exploration_steps
        )
        obs = agent.envs.state
        explore = jax.random.uniform(explore_key, (args.num_envs,)) < epsilon
        random_actions = jax.random.randint(action_key, (args.num_envs,), 0, n_actions)
        actions = jnp.where(explore, random_actions, q_network(agent.params, obs).argmax(axis=1))

        reset_keys = jax.random.split(reset_key, args.num_envs)
        envs, next_obs, rewards, terminations, truncations, episode_returns, episode_lengths = jax.vmap(
            cartpole_autoreset_step
        )(agent.envs, actions, reset_keys)

        # step t stores its transitions at t·num_envs − num_envs … in the ring; the buffer then holds
        # t·num_envs of them, or buffer_size once it is full
        idx = ((iteration - 1) * args.num_envs + jnp.arange(args.num_envs)) % args.buffer_size
        transitions = (obs, actions, rewards, next_obs, terminations.astype(jnp.float32))
        buffer = ReplayBuffer(
            *(array.at[idx].set(values) for array, values in zip(agent.buffer, transitions))
        )
        filled = jnp.minimum(global_step, args.buffer_size)

        # the condition is the same for every agent (it depends on the step alone), so under vmap
        # lax.cond stays a branch: the update is computed on its steps only
        learn_now = (filled > args.learning_starts) & (iteration % args.train_frequency == 0)
        networks = (agent.params, agent.target_params, agent.opt_state)
        networks, loss, q_values = jax.lax.cond(
            learn_now, learn, no_learning, networks, buffer, batch_key, filled, agent.learning
        )

        ended = terminations | truncations
        logged = {
            "ended": ended, "episode_return": episode_returns, "episode_length": episode_lengths,
            "td_loss": loss, "q_values": q_values, "epsilon": epsilon,
        }  # fmt: skip
        return Agent(*networks, buffer, envs, key, agent.learning), logged

    @functools.partial(jax.jit, static_argnums=2, donate_argnums=0)
    def train_chunk(agents: Agent, first_iteration: int, length: int):
        """Steps first_iteration … first_iteration + length − 1 of every agent, in one program."""
        iterations = first_iteration + jnp.arange(length)
        return jax.lax.scan(jax.vmap(agent_step, in_axes=(0, None)), agents, iterations)

    # ---- the training loop: compiled chunks, and between them the logs and the stop rule ----
    # the agents are spread over the devices (one per CPU core, or the GPU), each device steps its share
    agents = jax.jit(jax.vmap(init_agent), out_shardings=run.sharding)(run.agent_seeds)
    chunk_iterations = args.chunk_steps // args.num_envs
    iteration = 0
    while iteration < num_iterations and run.learning.any():
        length = min(chunk_iterations, num_iterations - iteration)
        learning = jax.device_put(run.learning, run.sharding)
        agents, logged = train_chunk(agents._replace(learning=learning), iteration + 1, length)
        steps = (iteration + 1 + np.arange(length)) * args.num_envs
        iteration += length
        run.log_chunk(steps, jax.device_get(logged))  # episodes, losses, ε, SPS; the agents that diverged

        # the stop rule: the agents whose last 10 training returns reach the threshold play a greedy
        # check, and those whose every episode reaches it too are solved and stop learning
        reached = run.solved_in_training()
        if reached:
            params = jax.tree.map(itemgetter(reached), jax.device_get(agents.params))  # their networks
            check_seeds = [run.check_seeds[i] for i in reached]
            run.check(reached, evaluate(params, check_seeds, args.check_episodes, args.gamma)[0], steps[-1])
        run.progress(steps[-1])
        if run.stop_signals:
            break

    params = jax.device_get(agents.params)
    eval_returns, predicted, discounted = evaluate(
        jax.tree.map(itemgetter(slice(args.num_seeds)), params),
        run.eval_seeds, args.eval_episodes, args.gamma, run.video_folders,
    )  # fmt: skip
    run.log_evaluation(iteration * args.num_envs, eval_returns, predicted, discounted)
    run.save_models(iteration * args.num_envs, params)
    return run.finish()


# ---- plumbing: this file's own, not the torch files' (it runs many agents in one process) ----
# Bad input, the device, one run directory and writer per agent, the progress line, the stop rule,
# the saved parameters and signals.
import contextlib
import pickle
import signal
import sys
import time
from collections import deque

import tyro
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.summary.writer.event_file_writer import EventFileWriter

ALGORITHM = os.path.basename(__file__).removesuffix(".py")


def fail(message: str):
    """Bad input ends the run here: one line naming the problem and the flag, exit status 2."""
    print(f"{ALGORITHM}.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_args(args):
    """Refuse input this file cannot run, before anything is written."""
    for name, interval in BOUNDS.items():
        low, high = (float(end) for end in interval[1:-1].split(","))
        value = getattr(args, name)
        above = low < value if interval[0] == "(" else low <= value
        below = value < high if interval[-1] == ")" else value <= high
        if not (above and below):  # nan is neither
            allowed = "positive" if interval == "(0, inf)" else f"in {interval}"
            fail(f"--{name.replace('_', '-')} must be {allowed}, not {value}")
    if args.total_timesteps < args.num_envs:
        fail(
            f"--total-timesteps {args.total_timesteps} is less than one step of the --num-envs {args.num_envs}"
        )
    if not args.exp_name or os.sep in args.exp_name:
        fail(f"--exp-name {args.exp_name!r} must be a name, not a path: it names the run's files")
    try:
        env = gym.make(args.env_id)
    except Exception as e:  # an unknown id, or an env whose own module fails to import
        fail(f"--env-id {args.env_id}: {type(e).__name__}: {e}".splitlines()[0])
    message = unmet_requirement(args, env)
    env.close()
    if message:
        fail(message)


def pick_devices(cuda: bool) -> list:
    """JAX's GPUs with --cuda where it finds one; otherwise (and by default) the CPU, as one device per
    core, so that the agents spread over the cores as they would over GPUs."""
    if cuda:
        try:
            return jax.devices("gpu")
        except RuntimeError:  # no GPU, or a jaxlib built without CUDA
            print(
                "notice: --cuda given but JAX finds no GPU (pip install 'jax[cuda12]'); training on the CPU"
            )
    # where JAX already ran in this process (a notebook, the tests), its devices stay as they are
    with contextlib.suppress(RuntimeError):
        jax.config.update("jax_num_cpu_devices", os.cpu_count())
    return jax.devices("cpu")


class SummaryWriter:
    """The two calls of torch's SummaryWriter that this file makes, written with tensorboard's own
    event writer: importing torch for them would cost more than a second of every run."""

    def __init__(self, log_dir: str):
        self.events = EventFileWriter(log_dir)

    def add_scalar(self, tag: str, value: float, step: int):
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
        self.events.add_event(Event(wall_time=time.time(), step=int(step), summary=summary))

    def add_text(self, tag: str, text: str):
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        tensor = TensorProto(
            dtype="DT_STRING",
            string_val=[text.encode()],
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
        )
        summary = Summary(value=[Summary.Value(tag=f"{tag}/text_summary", metadata=metadata, tensor=tensor)])
        self.events.add_event(Event(wall_time=time.time(), summary=summary))

    def close(self):
        self.events.close()


class Run:
    """The plumbing around train()'s loop, which calls it `run`, for `num_seeds` agents at once: agent
    i is a run of its own, seed `seed + i`, with its run directory, writer and stop rule."""

    def __init__(self, args):
        check_args(args)
        self.args = args
        devices = pick_devices(args.cuda)
        jax.config.update("jax_default_device", devices[0])
        # the agents' axis split over the devices, into equal shares: up to a share more agents than
        # seeds, which run without learning and are never logged
        self.sharding = NamedSharding(Mesh(np.array(devices), ("agents",)), PartitionSpec("agents"))
        num_agents = -(-args.num_seeds // len(devices)) * len(devices)
        self.agent_seeds = np.arange(args.seed, args.seed + num_agents)
        self.learning = np.arange(num_agents) < args.num_seeds  # False once solved or diverged
        self.seeds = list(range(args.seed, args.seed + args.num_seeds))  # the agents that are runs
        started = int(time.time())
        self.names = [f"{args.env_id}__{args.exp_name}__{seed}__{started}" for seed in self.seeds]
        self.video_folders = [f"videos/{name}-eval" if args.capture_video else None for name in self.names]
        self.writers = [SummaryWriter(f"runs/{name}") for name in self.names]
        for writer, seed in zip(self.writers, self.seeds):
            hyperparameters = vars(args) | {"seed": seed}
            writer.add_text(
                "hyperparameters",
                "|param|value|\n|-|-|\n"
                + "\n".join(f"|{key}|{value}|" for key, value in hyperparameters.items()),
            )
        # episodes the training envs never start from, and others again to confirm a solve
        self.eval_seeds = [seed + 100_000 for seed in self.seeds]
        self.check_seeds = [seed + 200_000 for seed in self.seeds]
        self.threshold = gym.spec(args.env_id).reward_threshold
        self.recent_returns = [deque(maxlen=10) for _ in self.seeds]
        self.solved_at = [None] * args.num_seeds
        self.diverged = [None] * args.num_seeds
        self.step, self.printed, self.start_time = 0, 0, time.time()
        # Ctrl-C and SIGTERM stop the run at the end of the chunk under way (a compiled chunk cannot be
        # interrupted), which then saves every agent's parameters; a second Ctrl-C stops at once
        self.stop_signals = []
        self.previous_handlers = {
            sig: signal.signal(sig, self.stop_after_this_chunk) for sig in (signal.SIGINT, signal.SIGTERM)
        }

    def stop_after_this_chunk(self, signum, frame):
        if self.stop_signals:
            raise KeyboardInterrupt
        self.stop_signals.append(signum)

    def sps(self, step: int) -> int:
        """Environment steps per second of one agent."""
        return int(step / (time.time() - self.start_time))

    def log_chunk(self, steps: np.ndarray, logged: dict):
        """Write what the compiled loop returned for each step of a chunk, agent by agent (axis 1)
        while it learns: its episodes (into the stop rule's window of the last 10), every 100th
        step's losses and ε, and the steps per second. An agent whose loss is not finite diverged."""
        self.step = int(steps[-1])
        every_100th = np.flatnonzero((steps // self.args.num_envs) % 100 == 0)
        for i in np.flatnonzero(self.learning):
            writer = self.writers[i]
            for t, env in zip(*np.nonzero(logged["ended"][:, i])):
                episode_return = float(logged["episode_return"][t, i, env])
                self.recent_returns[i].append(episode_return)
                writer.add_scalar("charts/episodic_return", episode_return, steps[t])
                writer.add_scalar("charts/episodic_length", logged["episode_length"][t, i, env], steps[t])
            for t in every_100th:
                if not np.isnan(logged["td_loss"][t, i]):  # a step that learned
                    writer.add_scalar("losses/td_loss", logged["td_loss"][t, i], steps[t])
                    writer.add_scalar("losses/q_values", logged["q_values"][t, i], steps[t])
                    writer.add_scalar("charts/epsilon", logged["epsilon"][t, i], steps[t])
            writer.add_scalar("charts/SPS", self.sps(self.step), self.step)
            losses = logged["td_loss"][:, i]
            bad = np.flatnonzero(np.isinf(losses) | (np.isnan(losses) & ~np.isnan(logged["q_values"][:, i])))
            if len(bad):  # Q-values that overflow make the loss inf or nan
                self.diverged[i] = f"the TD loss is {losses[bad[0]]} at step {steps[bad[0]]:,}"
                self.learning[i] = False

    def solved_in_training(self) -> list[int]:
        """The agents still learning whose last 10 training returns reach the threshold."""
        return [
            i
            for i in np.flatnonzero(self.learning)
            if self.args.stop_when_solved
            and len(self.recent_returns[i]) == 10
            and np.mean(self.recent_returns[i]) >= self.threshold
        ]

    def check(self, agents: list[int], check_returns: list, step: int):
        """The stop rule's second half, as in dqn.py: the returns reached in training must hold in every
        episode of a greedy check; an agent that passes is solved and stops learning."""
        for i, returns in zip(agents, check_returns):
            if min(returns) >= self.threshold:
                self.learning[i] = False
                self.solved_at[i] = step
                print(f"step {step:>9,}  seed {self.seeds[i]} solved")
            else:
                self.recent_returns[i].clear()  # the next check waits for 10 new episodes

    def progress(self, step: int):
        """Print, every 1/20 of the budget, the agents' last-10 returns (lowest, median, highest) and how
        many are solved."""
        period = max(self.args.total_timesteps // 20, 1)
        if step // period == self.printed // period:
            return
        self.printed = step
        recent = [np.mean(window) for window in self.recent_returns if window]
        spread = f"{min(recent):6.1f} {np.median(recent):6.1f} {max(recent):6.1f}" if recent else "     -"
        solved = sum(at is not None for at in self.solved_at)
        print(
            f"step {step:>9,}  return (last 10, lowest median highest) {spread}  solved {solved}/{len(self.seeds)}  "
            f"SPS {self.sps(step):,} per agent"
        )

    def log_evaluation(self, step: int, eval_returns: list, predicted: list, discounted: list):
        """Write and print each agent's final greedy evaluation."""
        self.eval_returns = eval_returns
        for i, writer in enumerate(self.writers):
            end = self.solved_at[i] or step  # a solved agent's run ended when it was solved
            for episode_return in eval_returns[i]:
                writer.add_scalar("eval/episodic_return", episode_return, end)
            writer.add_scalar("eval/predicted_value", np.mean(predicted[i]), end)
            writer.add_scalar("eval/discounted_return", np.mean(discounted[i]), end)
            print(
                f"seed {self.seeds[i]}  step {end:>9,}  greedy evaluation "
                f"{np.mean(eval_returns[i]):.1f} ± {np.std(eval_returns[i]):.1f}"
            )

    def save_models(self, step: int, params: list):
        """With --save-model, and when a signal stopped the run, write each agent's parameters (numpy
        arrays, [(W, b)] per layer) with its arguments; to a temporary file first, so that a kill during
        the write leaves no half file."""
        self.model_paths = [f"runs/{name}/{self.args.exp_name}.params" for name in self.names]
        if not (self.args.save_model or self.stop_signals):
            return
        for i, path in enumerate(self.model_paths):
            saved = {
                "algorithm": ALGORITHM,
                "args": vars(self.args) | {"seed": self.seeds[i], "num_seeds": 1},
                "global_step": self.solved_at[i] or step,
                "params": jax.tree.map(itemgetter(i), params),
            }
            with open(path + ".tmp", "wb") as f:
                pickle.dump(saved, f)
            os.replace(path + ".tmp", path)
        print(f"parameters saved to runs/*/{self.args.exp_name}.params ({len(self.model_paths)} agents)")

    def finish(self) -> dict:
        """Close the writers and end the run as it ended: a summary to return, exit status 1 when an
        agent diverged, 128 + the signal's number when Ctrl-C or SIGTERM stopped it."""
        for writer in self.writers:
            writer.close()
        for sig, handler in self.previous_handlers.items():
            signal.signal(sig, handler)
        for seed, message in zip(self.seeds, self.diverged):
            if message:
                print(f"{ALGORITHM}.py: error: seed {seed}: training diverged: {message}", file=sys.stderr)
        if any(self.diverged):
            raise SystemExit(1)
        if self.stop_signals:
            print(f"stopped by {signal.Signals(self.stop_signals[0]).name} after step {self.step:,}")
            raise SystemExit(128 + self.stop_signals[0])
        return {
            "eval_returns": self.eval_returns,
            "solved_at": self.solved_at,
            "run_dirs": [f"runs/{name}" for name in self.names],
            "model_paths": self.model_paths if self.args.save_model else None,
        }


if __name__ == "__main__":
    train(tyro.cli(Args))
