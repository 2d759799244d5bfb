"""Parallel Q-learning (PQN): Q(λ) without a replay buffer or a target network.

Gallici, Fellows, Ellis, Pou, Masmitja, Foerster & Martin, "Simplifying Deep Temporal Difference
Learning", ICLR 2025.

DQN (`dqn.py`) holds its regression still with two devices: a replay buffer, so that a batch is
not a run of correlated steps, and a target network, so that the target does not move with every
step of θ. PQN drops both. A LayerNorm after each hidden layer keeps the network's features at a
fixed scale, which the paper shows is what TD learning off its own targets needs to stay stable;
and many environments stepped together give batches whose transitions come from many episodes,
as a buffer's do. What is left is PPO's loop (`ppo.py`) with a Q-network: collect a rollout of
`num_envs` × `num_steps` steps acting ε-greedily on Q_θ, compute the Q(λ) return of every
transition once, backwards over the rollout, with the network that collected it, then take
`update_epochs` passes over the rollout in shuffled minibatches:

    G_t  = r_t + γ (1 − terminated_t) [ max_a Q(s_{t+1}, a) + λ (1 − ended_t) (G_{t+1} − max_a Q(s_{t+1}, a)) ]
    G_T  = max_a Q(s_T, a)                                   the state the rollout stopped in
    L(θ) = ½ mean over the minibatch of (Q_θ(s_t, a_t) − G_t)²

λ = 0 gives Q-learning's one-step target, r + γ max_a Q(s', a); λ = 1 sums the rollout's
rewards up to its end before bootstrapping; between, the targets look further ahead than DQN's
at less variance than a Monte Carlo return. A *terminated* episode has no future: its last
target is r alone. A *truncated* one would have gone on: its last target bootstraps from
max_a Q of the state where it was cut, and either kind of end stops the sum (1 − ended_t), so
that the next episode's returns are not this one's. A step that only resets an env is no
transition, and is left out of the loss. Q(s_{t+1}, ·) are the values the network gave while
acting (no update comes between acting and the returns), and the returns stay fixed over the
rollout's passes, as PPO's advantages do.

The details, each with its reason:
- The network is `dqn.py`'s with a LayerNorm between each hidden layer's linear map and its ReLU:
  without it (and without a target network) the values of CartPole's states run away.
- RAdam, the paper's optimizer, with the whole gradient clipped to a norm of `max_grad_norm` (10,
  the paper's), and the learning rate falling linearly to 0 over the run (`--anneal-lr`).
- ε-greedy per env, each env drawing its own exploration; ε falls linearly from `start_e` to
  `end_e` over the first `exploration_fraction` of the run, and stays there.
- The rewards are multiplied by `reward_scale` for learning (the paper's 0.1 on CartPole): the
  values the network regresses on reach about 10 on CartPole, not 100 (the returns logged are the
  env's own).

The defaults are tuned for CartPole on a CPU, chosen among eight candidates beside dqn.py
(docs/studies/pqn-defaults.md): rollouts of 16 envs × 16 steps, 4 epochs of 4 minibatches, a
learning rate of 1e-3, λ = 0.65 (the paper's for MinAtar) and ε falling to 0 over 20,000 steps. The
paper's CartPole settings (32 envs × 64 steps, 16 minibatches, a learning rate of 1e-4, λ = 0.95, ε
to 0.2, 256 wide) are made for a budget of 500,000 steps. A truncation bootstraps here, where the
paper's environments end every episode as a termination.

What differs from `dqn.py`: no replay buffer and no target network; the rollout and its Q(λ)
returns; the LayerNorm; the epochs over shuffled minibatches, RAdam, the gradient clip and the
annealed learning rate (all `ppo.py`'s loop); the reward scale; ε drawn per env (`dqn.py` draws
once for its one env). The ε schedule and the greedy evaluation are `dqn.py`'s.

Run:
    python algorithms/pqn.py --env-id CartPole-v1
    tensorboard --logdir runs
"""

import functools
import os
import random
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__).removesuffix(".py")
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, train on the GPU when there is one"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "refrl"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    capture_video: bool = False
    """if toggled, record videos of the agent into the `videos` folder"""
    save_model: bool = False
    """if toggled, save the model into `runs/{run_name}/{exp_name}.pt`"""
    env_id: str = "CartPole-v1"
    """the id of the environment (discrete actions)"""
    total_timesteps: int = 200_000
    """total environment steps of the experiment, all environments counted"""
    num_envs: int = 16
    """the number of parallel game environments"""
    eval_episodes: int = 10
    """the number of greedy episodes of each evaluation"""
    eval_frequency: int = 0
    """evaluate every this many environment steps as well as at the end (0: only at the end)"""
    stop_when_solved: bool = True
    """stop once the last 10 training returns, then a greedy evaluation, reach the env's reward threshold"""
    check_episodes: int = 10
    """the number of greedy episodes of the stop rule's check; every one must reach the reward threshold"""
    checkpoint_frequency: int = 0
    """also save a checkpoint every this many environment steps (0: only when the run ends or stops)"""
    resume: str | None = None
    """continue the run saved in this checkpoint, with the same arguments"""
    evaluate: str | None = None
    """play --eval-episodes greedy episodes with the policy saved in this checkpoint, and train nothing"""

    # Algorithm specific arguments
    num_steps: int = 16
    """the steps of each environment in a rollout: num_envs × num_steps transitions per rollout"""
    learning_rate: float = 1e-3
    """the learning rate of the optimizer"""
    gamma: float = 0.99
    """the discount factor gamma"""
    q_lambda: float = 0.65
    """λ of the Q(λ) returns: 0 gives Q-learning's one-step target, 1 the rollout's summed rewards"""
    update_epochs: int = 4
    """the passes over each rollout"""
    num_minibatches: int = 4
    """the minibatches each pass over a rollout is split into"""
    max_grad_norm: float = 10.0
    """the largest norm the gradient is clipped to"""
    hidden_size: int = 128
    """the width of the two hidden layers of the Q-network"""
    start_e: float = 1.0
    """the starting epsilon for exploration"""
    end_e: float = 0.0
    """the ending epsilon for exploration"""
    exploration_fraction: float = 0.1
    """the fraction of `total_timesteps` it takes for epsilon to go from `start_e` to `end_e`"""
    reward_scale: float = 0.1
    """the rewards are multiplied by this for learning"""
    anneal_lr: bool = True
    """if toggled, the learning rate falls linearly to 0 over the budget the run was started with"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)", "eval_episodes": "(0, inf)",
    "eval_frequency": "[0, inf)", "checkpoint_frequency": "[0, inf)", "check_episodes": "(0, inf)",
    "num_steps": "(0, inf)", "learning_rate": "(0, inf)", "gamma": "[0, 1]", "q_lambda": "[0, 1]",
    "update_epochs": "(0, inf)", "num_minibatches": "(0, inf)", "max_grad_norm": "(0, inf)",
    "hidden_size": "(0, inf)", "start_e": "[0, 1]", "end_e": "[0, 1]", "exploration_fraction": "(0, 1]",
    "reward_scale": "(0, inf)",
}  # fmt: skip


def unmet_requirement(args: Args, env: gym.Env) -> str | None:
    """What this file cannot run besides BOUNDS, as the line that says why; None when it can."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        return f"--env-id {args.env_id} has actions {env.action_space}, not a discrete action space"
    if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
        return f"--env-id {args.env_id} has observations {env.observation_space}, not flat vectors"
    if args.total_timesteps < args.num_envs * args.num_steps:
        return (
            f"--total-timesteps {args.total_timesteps} is less than one rollout "
            f"(--num-envs {args.num_envs} × --num-steps {args.num_steps})"
        )
    if args.num_minibatches > args.num_envs * args.num_steps:
        return (
            f"--num-minibatches {args.num_minibatches} is more than the transitions of a rollout "
            f"(--num-envs {args.num_envs} × --num-steps {args.num_steps})"
        )
    return None


def make_env(env_id: str, num_envs: int, seed: int, capture_video: bool, video_folder: str):
    """`num_envs` copies of `env_id` in one vector env, in gymnasium's next-step autoreset mode.

    Next-step autoreset: the step on which an episode ends returns its true last observation,
    and the *following* call to `step` ignores the action and returns the first observation of a
    new episode (reward 0, not done). CartPole comes with a numpy implementation that steps all
    its copies in one call, used where there is one. Otherwise, and with `capture_video`, the
    copies step one by one, and with `capture_video` the first records some of its episodes (the
    1st, 2nd, 9th, 28th…, gymnasium's default): rendering every copy would cost more than the
    training. A CartPole run with video therefore starts its episodes from other states.
    """
    if gym.spec(env_id).vector_entry_point and not capture_video:
        envs = gym.make_vec(env_id, num_envs)
    else:
        make_one = functools.partial(gym.make, env_id)  # unlike make_vec's closure, it pickles

        def make_recorded():
            return gym.wrappers.RecordVideo(gym.make(env_id, render_mode="rgb_array"), video_folder)

        envs = gym.vector.SyncVectorEnv(
            [make_recorded if capture_video else make_one] + [make_one] * (num_envs - 1)
        )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    envs.action_space.seed(seed)
    return envs


class QNetwork(nn.Module):
    """Q_θ(s, ·): an observation in, one value per action out; each hidden layer normalised (LayerNorm,
    with its learned gain and bias) before its ReLU."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_size: int):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(obs_dim, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, n_actions),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class Rollout:
    """The last `num_steps` steps of `num_envs` environments, row t holding step t of every env.

    `max_q` has one row more: max_a Q of the observations the last step led to, from which the last
    transitions bootstrap. `real[t, i]` is False where env i only reset
    at step t (the step after an episode's end), a step that is no transition. Preallocated once,
    overwritten every rollout.
    """

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int):
        self.obs = np.zeros((num_steps, num_envs, obs_dim), dtype=np.float32)
        self.max_q = np.zeros((num_steps + 1, num_envs), dtype=np.float32)  # max_a Q(s_t, a)
        self.actions = np.zeros((num_steps, num_envs), dtype=np.int64)
        self.rewards = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.terminated = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.ended = np.zeros((num_steps, num_envs), dtype=np.float32)  # terminated or truncated
        self.real = np.zeros((num_steps, num_envs), dtype=bool)

    def add(self, t: int, obs, max_q, actions, rewards, terminations, truncations, autoreset):
        self.obs[t], self.max_q[t], self.actions[t], self.rewards[t] = obs, max_q, actions, rewards
        self.terminated[t], self.ended[t] = terminations, terminations | truncations
        self.real[t] = ~autoreset

    def returns(self, gamma: float, q_lambda: float) -> np.ndarray:
        """G_t = r_t + γ (1 − terminated_t) [max Q_{t+1} + λ (1 − ended_t) (G_{t+1} − max Q_{t+1})],
        backwards from G_T = max Q_T."""
        returns = np.zeros_like(self.rewards)
        running = self.max_q[-1]
        for t in reversed(range(len(self.rewards))):
            next_q = self.max_q[t + 1]
            bootstrap = next_q + q_lambda * (1 - self.ended[t]) * (running - next_q)
            running = self.rewards[t] + gamma * (1 - self.terminated[t]) * bootstrap
            returns[t] = running
        return returns


def evaluate(
    q_network: QNetwork,
    envs,
    eval_episodes: int,
    seed: int,
    device: torch.device,
    gamma: float,
    stop_below: float | None = None,
):
    """Play `eval_episodes` episodes greedily (ε = 0) in `envs`, one env made by `make_env`.

    Returns each episode's undiscounted return and, to show how far the Q-values are from the
    truth, the value the network predicted for its first state, max_a Q(s_0, a), beside the
    discounted return that followed, Σ_t γ^t r_t, of the env's rewards (the caller scales it to the
    network's units). The first reset is seeded, so that every
    evaluation of a run starts from the same states and evaluations compare policies alone.
    Given `stop_below` (the stop rule's check gives it the threshold), it stops after the first
    episode below it: the check asks every episode to reach the threshold, so the rest could not
    change its answer.
    """
    returns, predicted, discounted = [], [], []
    for episode in range(eval_episodes):
        obs, _ = envs.reset(seed=seed if episode == 0 else None)
        with torch.no_grad():
            predicted.append(q_network(torch.as_tensor(obs, device=device)).max().item())
        done, discount, discounted_return = False, 1.0, 0.0
        while not done:
            with torch.no_grad():
                actions = q_network(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy()
            obs, rewards, terminations, truncations, infos = envs.step(actions)
            discounted_return += discount * float(rewards[0])
            discount *= gamma
            done = terminations[0] or truncations[0]
        returns.append(float(infos["episode"]["r"][0]))
        discounted.append(discounted_return)
        if stop_below is not None and returns[-1] < stop_below:
            break
    return returns, predicted, discounted


def train(args: Args) -> dict:
    run = Run(args)  # refuses bad input, seeds, opens the run directory; reads the checkpoint of --resume
    device = run.device
    envs = make_env(args.env_id, args.num_envs, args.seed, args.capture_video, f"videos/{run.name}")
    eval_envs = make_env(args.env_id, 1, args.seed, args.capture_video, f"videos/{run.name}-eval")

    # ---- network, optimizer, rollout storage: no target network, no replay buffer ----
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    n_actions = int(envs.single_action_space.n)
    q_network = QNetwork(obs_dim, n_actions, args.hidden_size).to(device)
    optimizer = torch.optim.RAdam(q_network.parameters(), lr=args.learning_rate, foreach=True)
    rollout = Rollout(args.num_steps, args.num_envs, obs_dim)
    learner = {"q_network": q_network, "optimizer": optimizer}  # what a checkpoint holds

    # ---- the training loop ----
    obs, _ = envs.reset(seed=args.seed)
    autoreset = np.zeros(args.num_envs, dtype=bool)  # the envs whose next step only starts a new episode
    envs, obs, autoreset = run.resume(learner, (envs, obs, autoreset))  # as the checkpoint left them
    if args.evaluate:  # the checkpoint's policy, played greedily; nothing is trained
        eval_returns, _, _ = evaluate(
            q_network, eval_envs, args.eval_episodes, run.eval_seed, device, args.gamma
        )
        return run.evaluated(eval_returns, envs, eval_envs)
    batch_size = args.num_envs * args.num_steps
    num_iterations = args.total_timesteps // batch_size
    exploration_steps = args.exploration_fraction * run.planned_steps  # of the budget the run began with
    for iteration in range(run.step // batch_size + 1, num_iterations + 1):
        if args.anneal_lr:  # over the budget the run began with, as every schedule: 0 past it
            done = (iteration - 1) * batch_size / run.planned_steps
            optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)
        for t in range(args.num_steps):
            global_step = (iteration - 1) * batch_size + (t + 1) * args.num_envs
            # ε-greedy in each env, ε falling linearly from start_e to end_e over the first exploration_steps
            epsilon = args.start_e + (args.end_e - args.start_e) * min(1.0, global_step / exploration_steps)
            with torch.no_grad():
                q = q_network(torch.as_tensor(obs, device=device))
            explore = np.random.random(args.num_envs) < epsilon
            actions = np.where(explore, envs.action_space.sample(), q.argmax(dim=1).cpu().numpy())
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            max_q = q.max(dim=1).values.cpu().numpy()
            rewards = rewards * args.reward_scale
            rollout.add(t, obs, max_q, actions, rewards, terminations, truncations, autoreset)
            run.log_episodes(global_step, infos)
            autoreset = terminations | truncations
            obs = next_obs
        with torch.no_grad():  # max_a Q of the states the rollout stopped in, where its returns begin
            last_q = q_network(torch.as_tensor(obs, device=device))
        rollout.max_q[args.num_steps] = last_q.max(dim=1).values.cpu().numpy()

        # ---- learning ----
        real = np.flatnonzero(rollout.real)  # the transitions, by index in the rollout's steps × envs
        if len(real) > 0:  # a rollout of one step in which every env only reset has nothing to learn from
            returns = rollout.returns(args.gamma, args.q_lambda)  # G_t, from the network that acted
            b_obs = torch.as_tensor(rollout.obs, device=device).flatten(0, 1)[real]
            b_actions = torch.as_tensor(rollout.actions, device=device).flatten()[real]
            b_returns = torch.as_tensor(returns, device=device).flatten()[real]
            # fewer minibatches when the steps that only reset an env leave fewer transitions than that
            num_minibatches = min(args.num_minibatches, len(real))
            for _ in range(args.update_epochs):
                for mb in np.array_split(np.random.permutation(len(real)), num_minibatches):
                    q_taken = q_network(b_obs[mb]).gather(1, b_actions[mb].unsqueeze(1)).squeeze(1)
                    loss = 0.5 * ((q_taken - b_returns[mb]) ** 2).mean()
                    if not torch.isfinite(loss):  # Q-values that overflow make the loss inf or nan
                        run.diverged = f"the TD loss is {loss.item()} at step {global_step:,}"
                        break
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(q_network.parameters(), args.max_grad_norm)
                    optimizer.step()
                if run.diverged:
                    break
            if run.diverged:
                break

            if iteration % 10 == 0:
                losses = {"losses/td_loss": loss.item(), "losses/q_values": q_taken.mean().item()}
                run.log(global_step, losses | {"charts/epsilon": epsilon})

        # ---- report, evaluate, checkpoint ----
        run.progress(global_step, ε=epsilon)
        if run.solved_in_training:  # then solved if every episode of a greedy check is too
            check = evaluate(
                q_network, eval_envs, args.check_episodes, run.check_seed, device, args.gamma, run.threshold
            )
            run.check(check[0], global_step)
        last_iteration = iteration == num_iterations or run.solved
        if last_iteration or run.due(args.eval_frequency, global_step):
            eval_returns, predicted, discounted = evaluate(
                q_network, eval_envs, args.eval_episodes, run.eval_seed, device, args.gamma
            )
            values = {
                "eval/predicted_value": np.mean(predicted),
                "eval/discounted_return": args.reward_scale * np.mean(discounted),
            }
            run.log_evaluation(global_step, eval_returns, values)
        if run.end_step(global_step, last_iteration, learner, (envs, obs, autoreset)):
            break  # the last step, or the first after Ctrl-C or SIGTERM
    return run.finish(envs, eval_envs)


# ---- plumbing: the same text in every algorithm file, checked by tests/test_plumbing.py ----
# Bad input, seeding and the device, the run directory and its writer, checkpoints and resuming, signals,
# the progress line and the stop rule. What differs between the files comes from above: BOUNDS and
# unmet_requirement() say what to refuse, train() what a checkpoint holds.
import pickle
import signal
import sys
import time
from collections import deque
from importlib.util import find_spec

import tyro
from gymnasium.utils import EzPickle
from torch.utils.tensorboard import SummaryWriter

ALGORITHM = os.path.basename(__file__).removesuffix(".py")

# What a resumed run may take from the command line: a longer budget, and what does not change how it
# learns. Every other argument is the checkpoint's, and a command line that says otherwise is refused.
MAY_CHANGE_ON_RESUME = (
    "total_timesteps", "cuda", "track", "wandb_project_name", "wandb_entity", "capture_video",
    "save_model", "save_buffer", "checkpoint_frequency", "eval_frequency", "resume",
)  # fmt: skip
# What --evaluate takes from the command line (how to evaluate: the pixel files' ε too); every other argument is the
# checkpoint's.
MAY_CHANGE_ON_EVALUATE = ("eval_episodes", "eval_epsilon", "capture_video", "cuda", "track", "evaluate")


def fail(message: str, status: int = 2):
    """Bad input ends the run here: one line naming the problem and the flag, exit status 2 (or `status`)."""
    print(f"{ALGORITHM}.py: error: {message}", file=sys.stderr)
    raise SystemExit(status)


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
    with env:  # closed, whatever it is refused for
        if message := unmet_requirement(args, env):
            fail(message)
    if args.capture_video:  # a video needs frames: try one now rather than fail at the first recorded episode
        try:
            env = gym.make(args.env_id, render_mode="rgb_array")
            env.reset(seed=0)
            env.render()
            env.close()
        except Exception as e:  # MuJoCo's default OpenGL, for one, needs a display
            why = f"{args.env_id} cannot render here ({type(e).__name__})"
            fail(f"--capture-video: {why}; without a display, MuJoCo renders with MUJOCO_GL=egl")
    if args.track and find_spec("wandb") is None:
        fail("--track needs wandb, which is not installed (pip install wandb)")


def read_checkpoint(path: str, flag: str) -> dict:
    """Read a checkpoint of this file's, refusing a file that is none. Only tensors, numbers, strings and
    containers of them are read (weights_only): a pickle that would call a function (run code) is refused."""
    if not os.path.isfile(path):
        fail(f"{flag} {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        checkpoint["args"], checkpoint["global_step"]  # noqa: B018 (what every checkpoint holds)
    except Exception as e:  # a truncated or foreign file fails in many ways, all meaning "unreadable"
        unsafe = isinstance(e, pickle.UnpicklingError)
        why = ": it holds objects, which are never read, not only tensors and numbers" if unsafe else ""
        fail(f"{flag} {path}: not a readable checkpoint ({type(e).__name__}){why}")
    if checkpoint.get("algorithm") != ALGORITHM:
        fail(f"{flag} {path}: the checkpoint is of {checkpoint.get('algorithm')}, not of {ALGORITHM}")
    return checkpoint


def load_checkpoint(path: str, args) -> dict:
    """Read the checkpoint to resume from, refusing one that cannot continue this run."""
    checkpoint = read_checkpoint(path, "--resume")
    if checkpoint["global_step"] >= args.total_timesteps:
        fail(
            f"--resume {path}: the run is complete at --total-timesteps {args.total_timesteps}; raise it to go on"
        )
    saved, now = checkpoint["args"], vars(args)
    changed = [name for name, value in saved.items() if name != "resume" and now.get(name, value) != value]
    for name in changed:
        if name not in MAY_CHANGE_ON_RESUME:
            was = f"the checkpoint has --{name.replace('_', '-')} {saved[name]}, not {now[name]}"
            fail(f"--resume {path}: {was}; a resumed run keeps its arguments")
    if listed := ", ".join(f"--{name.replace('_', '-')} {now[name]} (was {saved[name]})" for name in changed):
        print(f"resuming with the checkpoint's arguments, and from the command line: {listed}")
    # a checkpoint of an earlier version of this file holds none of the arguments added since
    if added := [f"--{name.replace('_', '-')} {value}" for name, value in now.items() if name not in saved]:
        print(f"notice: the checkpoint predates {', '.join(added)}; the resumed run takes these values")
    return checkpoint


def save_checkpoint(path: str, checkpoint: dict):
    """Write to a temporary file, renamed over `path`: a kill during the write leaves the old one whole."""
    torch.save(checkpoint, path + ".tmp")
    os.replace(path + ".tmp", path)


def env_state(where: tuple) -> bytes | None:
    """The envs pickled mid-episode, with the loop's variables that go with them, for a resumed run to play
    on; None where there are none (a3c's live in its workers) or one cannot be pickled (Box2D, video)."""
    # an env pickled by its constructor's arguments, not its state (gymnasium's EzPickle: MuJoCo's, Box2D's),
    # would come back in its first state; gymnasium's own vector env has no copies (`envs`), only arrays
    copies = getattr(where[0].unwrapped, "envs", ()) if where else ()
    if not where or any(isinstance(env.unwrapped, EzPickle) for env in copies):
        return None
    try:
        return pickle.dumps(where)
    except Exception:  # pickling fails with whatever the unpicklable part raises
        return None


def state_of(part, args):
    """What a checkpoint keeps of a part of the learner: a state_dict; with --save-buffer, a buffer's arrays
    as tensors, counters and generator state (not its device), all read back without unpickling an object."""
    if hasattr(part, "state_dict"):
        return part.state_dict()
    if not getattr(args, "save_buffer", False):
        return None
    state = {name: value for name, value in vars(part).items() if name != "device"}
    for name, value in state.items():
        if isinstance(value, np.ndarray):
            state[name] = torch.from_numpy(value)
        elif isinstance(value, np.random.Generator):
            state[name] = value.bit_generator.state
    return state


class Run:
    """The plumbing around train()'s loop, which calls it `run`. Made first, it refuses bad input, reads the
    checkpoint, seeds, opens the run directory; `finish` ends the run, `evaluated` an --evaluate."""

    def __init__(self, args):
        if args.resume and args.evaluate:
            fail("--resume and --evaluate: a run either goes on or is evaluated, not both")
        self.args, self.checkpoint = args, None
        if args.evaluate:  # the checkpoint's arguments first, so that they are what is checked
            self.checkpoint = read_checkpoint(args.evaluate, "--evaluate")
            for name, value in self.checkpoint["args"].items():
                if name not in MAY_CHANGE_ON_EVALUATE and hasattr(args, name):
                    setattr(args, name, value)
        check_args(args)
        if args.resume:
            self.checkpoint = load_checkpoint(args.resume, args)
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        torch.backends.cudnn.deterministic = args.torch_deterministic
        # one thread: a small network's operations are too short to share, and idle threads slow others down
        torch.set_num_threads(1)
        self.device = torch.device("cuda" if args.cuda and torch.cuda.is_available() else "cpu")
        if args.cuda and self.device.type == "cpu":
            print("notice: --cuda given but no GPU is available; training on the CPU")
        self.name = f"{args.env_id.replace('/', '-')}__{args.exp_name}__{args.seed}__{int(time.time())}"
        if self.checkpoint:  # the run's own name; an evaluation's apart from it, for its videos
            self.name = self.checkpoint["run_name"] + ("-evaluated" if args.evaluate else "")
        self.model_path = f"runs/{self.name}/{args.exp_name}.pt"
        if args.track:
            import wandb  # imported only here, so that wandb is needed only with --track

            names = dict(project=args.wandb_project_name, entity=args.wandb_entity, name=self.name)
            wandb.init(**names, config=vars(args), sync_tensorboard=True, save_code=True, resume="allow")
        # the environment steps done, all envs counted, where the loop starts (and then where it is); the
        # schedules (ε, β) keep the budget the run was started with, also when a resumed run goes on
        self.step = self.start_step = self.checkpoint["global_step"] if self.checkpoint else 0
        self.planned_steps = self.checkpoint["planned_steps"] if self.checkpoint else args.total_timesteps
        # a resumed run logs on, purge_step hiding what it logged after its checkpoint; an evaluation, nothing
        purge_step = self.step + 1 if self.checkpoint else None
        self.writer = None if args.evaluate else SummaryWriter(f"runs/{self.name}", purge_step=purge_step)
        if not self.checkpoint:
            table = "".join(f"\n|{key}|{value}|" for key, value in vars(args).items())
            self.writer.add_text("hyperparameters", "|param|value|\n|-|-|" + table)
        self.eval_seed = args.seed + 100_000  # episodes the training envs never start from
        self.check_seed = args.seed + 200_000  # and others again, to confirm that a run is solved
        self.threshold = gym.spec(args.env_id).reward_threshold  # the stop rule's; None: never solved
        self.recent_returns = deque(self.checkpoint["recent_returns"] if self.checkpoint else (), maxlen=10)
        self.solved_in_training = self.solved = False
        self.diverged = self.eval_returns = None
        # Ctrl-C and SIGTERM stop the run at the end of the step under way, so that the checkpoint it writes
        # is whole; a second Ctrl-C stops at once
        self.stop_signals, handler = [], self.stop_after_this_step
        self.previous_handlers = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def stop_after_this_step(self, signum, frame):
        if self.stop_signals:
            raise KeyboardInterrupt
        self.stop_signals.append(signum)

    def resume(self, learner: dict, where: tuple) -> tuple:
        """Start the loop. With --resume, load the checkpoint into `learner` (train()'s networks, optimizers,
        buffer) and the random generators, and return `where` (the vector env, then the loop's variables that
        go with it) as it was; a new run's comes back as it is. --evaluate loads only the networks."""
        self.start_time = time.time()
        if self.checkpoint is None:
            return where
        if self.args.evaluate:  # the networks (and the statistics they hold), not optimizers or buffers
            print(f"evaluating {self.args.evaluate}, saved after step {self.step:,}")
            learner = {key: part for key, part in learner.items() if isinstance(part, torch.nn.Module)}
        for key, part in learner.items():
            if self.checkpoint[key] is None:
                print(
                    f"notice: the checkpoint holds no {key} (--save-buffer); the resumed run starts it empty"
                )
            elif hasattr(part, "load_state_dict"):
                part.load_state_dict(self.checkpoint[key])
            else:  # a buffer: its arrays, counters and generator
                for name, value in self.checkpoint[key].items():
                    if isinstance(getattr(part, name), np.random.Generator):
                        getattr(part, name).bit_generator.state = value
                    else:
                        setattr(part, name, value.numpy() if isinstance(value, torch.Tensor) else value)
        if self.args.evaluate:
            return where
        python_state, numpy_state, torch_state = self.checkpoint["random"]
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        print(f"resuming {self.name} after step {self.step:,}")
        if self.args.total_timesteps > self.planned_steps:
            print(
                f"notice: --total-timesteps {self.args.total_timesteps:,} goes past the {self.planned_steps:,} the "
                "run began with; any schedule over the run (ε, an annealed learning rate) stays where it ended"
            )
        if self.checkpoint["envs"] is None:
            print("notice: the checkpoint holds no environment state; the resumed run starts new episodes")
            return where
        where[0].close()
        # the one part of a checkpoint that is unpickled: envs are Python objects, which only pickle saves,
        # and unpickling runs whatever code the file names, so resume only checkpoints you trust
        return pickle.loads(self.checkpoint["envs"])

    def due(self, period: int, step: int) -> bool:
        """Whether the loop passed a multiple of `period` steps since the end of its previous step."""
        return period > 0 and step // period > self.step // period

    def sps(self, step: int) -> int:
        return int((step - self.start_step) / (time.time() - self.start_time))

    def log(self, step: int, scalars: dict):
        """Write the scalars, and the steps per second."""
        for tag, value in (scalars | {"charts/SPS": self.sps(step)}).items():
            self.writer.add_scalar(tag, value, step)

    def log_episodes(self, step: int, infos: dict, ended=None):
        """Write the episodes that ended (of the envs `ended`, or all); the stop rule keeps their returns."""
        if "episode" not in infos:
            return
        ended = infos["_episode"] if ended is None else ended
        for episode_return, episode_length in zip(infos["episode"]["r"][ended], infos["episode"]["l"][ended]):
            self.recent_returns.append(float(episode_return))
            self.writer.add_scalar("charts/episodic_return", episode_return, step)
            self.writer.add_scalar("charts/episodic_length", episode_length, step)
        full = self.args.stop_when_solved and self.threshold is not None and len(self.recent_returns) == 10
        self.solved_in_training = full and np.mean(self.recent_returns) >= self.threshold

    def check(self, check_returns: list, step: int):
        """The stop rule's second half. Returns that reach the threshold in training must hold in a greedy
        evaluation too (on other episodes than the final one's, which stays a fair test), in every episode:
        a policy that fails one start in ten passes an average, then fails the final evaluation as often."""
        self.solved = min(check_returns) >= self.threshold
        if not self.solved:
            failed = f"episode {len(check_returns)}: {check_returns[-1]:.1f}"
            print(f"step {step:>9,}  solved in training, not in a greedy check ({failed})")
            self.recent_returns.clear()  # the next check waits for 10 new episodes
            self.solved_in_training = False

    def log_evaluation(self, step: int, eval_returns: list, scalars: dict | None = None):
        """Write and print a greedy evaluation: one point per episode, and the scalars."""
        self.eval_returns = eval_returns
        points = [("eval/episodic_return", episode_return) for episode_return in eval_returns]
        for tag, value in points + list((scalars or {}).items()):
            self.writer.add_scalar(tag, value, step)
        print(f"step {step:>9,}  greedy evaluation {np.mean(eval_returns):.1f} ± {np.std(eval_returns):.1f}")

    def progress(self, step: int, **shown: float):
        """Print the progress line, every 1/20 of the budget, with the values in `shown` (ε=0.3…)."""
        if self.due(max(self.args.total_timesteps // 20, 1), step):
            recent = f"{np.mean(self.recent_returns):7.1f}" if self.recent_returns else "      -"
            values = "".join(f"{name} {value:.2f}  " for name, value in shown.items())
            print(f"step {step:>9,}  return (last 10) {recent}  {values}SPS {self.sps(step):,}")

    def end_step(self, step: int, last: bool, learner: dict, where: tuple) -> bool:
        """Write a checkpoint when due and at the end; say whether the loop ends: last step, or a signal."""
        stop = last or bool(self.stop_signals)
        at_the_end = stop and (self.args.save_model or self.stop_signals)  # a stopped run is always saved
        if self.due(self.args.checkpoint_frequency, step) or at_the_end:
            numpy_state = np.random.get_state(legacy=False)  # its key as numbers, which weights_only reads
            numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
            generators = (random.getstate(), numpy_state, torch.get_rng_state())
            checkpoint = dict(algorithm=ALGORITHM, args=vars(self.args), run_name=self.name, global_step=step)
            checkpoint |= {key: state_of(part, self.args) for key, part in learner.items()}
            checkpoint |= dict(envs=env_state(where), recent_returns=list(self.recent_returns))
            checkpoint |= dict(planned_steps=self.planned_steps, random=generators)
            save_checkpoint(self.model_path, checkpoint)
            if stop:
                print(f"checkpoint saved to {self.model_path}")
        self.step = step
        return stop

    def close(self, envs: tuple):
        """Close the envs and the writer, and give the signals back their handlers."""
        for part in (*envs, self.writer) if self.writer else envs:
            part.close()
        for sig, handler in self.previous_handlers.items():
            signal.signal(sig, handler)

    def evaluated(self, eval_returns: list, *envs) -> dict:
        """End an --evaluate: close the envs, print the greedy evaluation's returns, and return them."""
        self.close(envs)
        played = ", ".join(f"{episode_return:.1f}" for episode_return in eval_returns)
        mean, std = np.mean(eval_returns), np.std(eval_returns)
        print(f"greedy evaluation {mean:.1f} ± {std:.1f}, episode by episode: {played}")
        return {"eval_returns": eval_returns, "run_dir": None, "model_path": self.args.evaluate}

    def finish(self, *envs) -> dict:
        """End the run: return a summary, or exit 1 if it diverged, 128 + the signal's number if stopped."""
        self.close(envs)
        if self.solved:
            mean = np.mean(self.recent_returns)
            print(f"solved: the last 10 training returns average {mean:.1f} ≥ {self.threshold}")
        if self.diverged:
            saved = os.path.exists(self.model_path)
            kept = f"the last good checkpoint is {self.model_path}" if saved else "no checkpoint was saved"
            fail(f"training diverged: {self.diverged} (a smaller learning rate may help); {kept}", 1)
        if self.stop_signals:
            stopped = f"stopped by {signal.Signals(self.stop_signals[0]).name} after step {self.step:,}"
            print(f"{stopped}; continue with --resume {self.model_path}")
            raise SystemExit(128 + self.stop_signals[0])
        model_path = self.model_path if self.args.save_model else None
        return {"eval_returns": self.eval_returns, "run_dir": f"runs/{self.name}", "model_path": model_path}


if __name__ == "__main__":
    train(tyro.cli(Args))
