"""Soft Actor-Critic (SAC).

Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", arXiv:1812.05905, 2018: the
version without a separate value network, and with the entropy's weight α learned.

SAC learns the policy that maximises reward *and* entropy, Σ_t E[r_t + α H(π(·|s_t))]: among
policies that earn as much, the one that keeps acting at random the most, which explores by itself
and does not stake everything on one action that the critic happens to overvalue. Its critics learn
the soft Q-function of the policy, the return with the entropy bonuses to come; its actor is a
Gaussian squashed by tanh into the action bounds. For a mini-batch of transitions (s, a, r, s', d)
drawn uniformly from the buffer, and α = exp(log α):

    a' ~ π_φ(·|s')                                           a fresh action of the current policy
    y    = r + γ (1 − d) (min(Q_θ1⁻(s', a'), Q_θ2⁻(s', a')) − α log π_φ(a'|s'))     the soft target
    L(θ) = mean over the batch of (Q_θ1(s, a) − y)² + (Q_θ2(s, a) − y)²
    ã    = center + scale · tanh(μ_φ(s) + σ_φ(s) ξ),  ξ ~ N(0, I)     reparameterised, so that ∇_φ
    L(φ) = mean over the batch of α log π_φ(ã|s) − min(Q_θ1(s, ã), Q_θ2(s, ã))   flows through ã
    L(α) = − mean over the batch of α (log π_φ(ã|s) + H̄),   H̄ = −|A|       (`--autotune`)
    θ1⁻ ← τ θ1 + (1 − τ) θ1⁻,  θ2⁻ ← τ θ2 + (1 − τ) θ2⁻          after every update (Polyak)

L(α) lowers α while the policy's entropy −log π is above the target H̄ and raises it below, so α
settles where the entropy holds at H̄ (charts/alpha and losses/entropy show it); it is learned
through log α, which keeps α positive, from `--alpha` (the paper does not say where α starts;
its authors' code starts at 1). With `--no-autotune`, α stays at `--alpha`.

The log-probability of the squashed action is the Gaussian's, corrected by the change of
variables a = tanh(u), da/du = 1 − tanh²(u), summed over the action's dimensions j:

    log π(a|s) = Σ_j [log N(u_j; μ_j, σ_j²) − log(1 − tanh²(u_j))],
    log(1 − tanh²(u)) = 2 (log 2 − u − softplus(−2u))   (the same, without 1 − tanh² rounding to 0)

It is the density of tanh(u) = (ã − center) / scale, in (−1, 1), before the action is scaled to
the bounds, so that the target H̄ = −|A| asks for the same spread of actions whatever the env's
units. d is 1 only when the episode *terminated* at s'; an episode *truncated* by a time limit
bootstraps. An update is one per step of the vector env (`--num-envs` env steps).

What differs from `ddpg.py`: the actor is stochastic and explores by sampling itself, with no noise
added; there is no target actor (the target samples the current policy); two critics and the
smaller of their values, as in `td3.py`, but neither TD3's target noise (a' is sampled anyway) nor
its delay; the entropy in the target and in the actor's loss, and α learned. The greedy evaluation
acts with the Gaussian's mean, center + scale · tanh(μ_φ(s)). The defaults are the paper's for what
is SAC's own (two critics, H̄ = −|A|, α learned, an update every step) and `ddpg.py`'s for the rest
on Pendulum, but for `--total-timesteps`: 20,000 where `ddpg.py` has 30,000, the budget within which
td3.py and sac.py are held to solve it; on MuJoCo `benchmarks/run.py` uses the paper's (256-256
networks, learning rates of 3e-4, mini-batches of 256, τ = 0.005). losses/critic_loss is the sum
of both critics' losses. eval/predicted_value, Q_θ1(s_0, center + scale · tanh(μ_φ(s_0))), is a
soft value of the stochastic policy: it counts the entropy bonuses to come, and the draws' returns,
where eval/discounted_return is what the mean action earned.

Run:
    python algorithms/sac.py --env-id Pendulum-v1
    tensorboard --logdir runs
"""

import functools
import math
import os
import random
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


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
    env_id: str = "Pendulum-v1"
    """the id of the environment (continuous actions)"""
    total_timesteps: int = 20_000
    """total environment steps of the experiment, all environments counted"""
    num_envs: int = 1
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
    save_buffer: bool = False
    """if toggled, checkpoints hold the replay buffer too, so that a resumed run continues exactly"""

    # Algorithm specific arguments
    learning_rate: float = 1e-3
    """the learning rate of the actor's optimizer, and of α's"""
    critic_learning_rate: float = 1e-3
    """the learning rate of the critics' optimizer"""
    buffer_size: int = 100_000
    """the replay memory buffer size"""
    gamma: float = 0.99
    """the discount factor gamma"""
    tau: float = 0.01
    """the target networks' update rate: θ⁻ ← τ θ + (1 − τ) θ⁻ after every update"""
    batch_size: int = 128
    """the batch size of samples from the replay memory"""
    hidden_size: int = 128
    """the width of the two hidden layers of the actor and of each critic"""
    alpha: float = 0.2
    """α, the weight of the entropy: where the learned α starts, or the fixed α with --no-autotune"""
    autotune: bool = True
    """if toggled, α is learned so that the policy's entropy holds at −|A|"""
    learning_starts: int = 1_000
    """learning starts once the replay buffer holds more than this many transitions"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)", "eval_episodes": "(0, inf)",
    "eval_frequency": "[0, inf)", "checkpoint_frequency": "[0, inf)", "check_episodes": "(0, inf)",
    "learning_rate": "(0, inf)", "critic_learning_rate": "(0, inf)", "buffer_size": "(0, inf)",
    "gamma": "[0, 1]", "tau": "(0, 1]", "batch_size": "(0, inf)", "hidden_size": "(0, inf)",
    "alpha": "(0, inf)", "learning_starts": "[0, inf)",
}  # fmt: skip


def unmet_requirement(args: Args, env: gym.Env) -> str | None:
    """What this file cannot run besides BOUNDS, as the line that says why; None when it can."""
    if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
        return f"--env-id {args.env_id} has observations {env.observation_space}, not flat vectors"
    space = env.action_space
    if not (
        isinstance(space, gym.spaces.Box)
        and len(space.shape) == 1
        and np.isfinite([space.low, space.high]).all()
    ):
        return f"--env-id {args.env_id} has actions {space}, not a bounded continuous action space (a Box)"
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


def make_env(env_id: str, num_envs: int, seed: int, capture_video: bool, video_folder: str):
    """`num_envs` copies of `env_id` in one vector env, in gymnasium's next-step autoreset mode.

    Next-step autoreset: the step on which an episode ends returns its true last observation,
    and the *following* call to `step` ignores the action and returns the first observation of a
    new episode (reward 0, not done). The training loop must not store that reset step.
    With `capture_video`, the first copy records some of its episodes (the 1st, 2nd, 9th, 28th…,
    gymnasium's default), and only those are rendered.
    """
    # The copies step one after another in this process; a partial, unlike a closure, pickles into
    # a checkpoint.
    make_one = functools.partial(gym.make, env_id)

    def make_recorded():
        return gym.wrappers.RecordVideo(gym.make(env_id, render_mode="rgb_array"), video_folder)

    first = make_recorded if capture_video else make_one
    envs = gym.vector.SyncVectorEnv([first] + [make_one] * (num_envs - 1))
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    envs.action_space.seed(seed)
    return envs


class Actor(nn.Module):
    """π_φ(·|s): a Gaussian N(μ_φ(s), σ_φ(s)²) over u, and the action center + scale · tanh(u), always
    within the bounds. Called on observations, it gives the greedy action, center + scale · tanh(μ_φ(s))."""

    def __init__(self, obs_dim: int, action_space: gym.spaces.Box, hidden_size: int):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(obs_dim, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
        )
        self.mean = nn.Linear(hidden_size, action_space.shape[0])
        self.log_std = nn.Linear(hidden_size, action_space.shape[0])
        # tanh's (−1, 1) mapped onto (low, high); buffers, so that they move to the device and into a checkpoint
        low, high = (
            torch.as_tensor(bound, dtype=torch.float32) for bound in (action_space.low, action_space.high)
        )
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_center", (high + low) / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.action_center + self.action_scale * torch.tanh(self.mean(self.network(x)))

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An action drawn from π_φ(·|s), differentiable in φ (u = μ + σ ξ), and its log π(a|s)."""
        hidden = self.network(x)
        mean = self.mean(hidden)
        # log σ kept within [−20, 2], as in the paper's code: a σ that collapses to 0 or explodes
        # makes log π overflow
        log_std = self.log_std(hidden).clamp(-20, 2)
        xi = torch.randn_like(mean)
        u = mean + log_std.exp() * xi
        # log N(u; μ, σ²) with (u − μ) / σ = ξ, and log(1 − tanh²(u)) in a form where 1 − tanh² does
        # not round to 0
        log_normal = -0.5 * xi**2 - log_std - 0.5 * math.log(2 * math.pi)
        log_det = 2 * (math.log(2) - u - F.softplus(-2 * u))
        log_prob = (log_normal - log_det).sum(dim=1)
        return self.action_center + self.action_scale * torch.tanh(u), log_prob


class Critic(nn.Module):
    """Q_θ1(s, a) and Q_θ2(s, a): an observation and an action in, two estimates of the expected
    return out, from two networks of the same shape initialised apart."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_size: int):
        super().__init__()
        self.q1, self.q2 = (
            nn.Sequential(
                nn.Linear(obs_dim + action_dim, hidden_size),
                nn.ReLU(),
                nn.Linear(hidden_size, hidden_size),
                nn.ReLU(),
                nn.Linear(hidden_size, 1),
            )
            for _ in range(2)
        )

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa = torch.cat([x, a], dim=1)
        return self.q1(xa).squeeze(1), self.q2(xa).squeeze(1)


class Temperature(nn.Module):
    """α = exp(log α), the entropy's weight, learned through log α so that it stays positive; a module,
    so that it is saved in a checkpoint and resumed as the networks are."""

    def __init__(self, alpha: float):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)))

    def forward(self) -> torch.Tensor:
        return self.log_alpha.exp()


class ReplayBuffer:
    """A ring buffer of transitions (s, a, r, s', d), preallocated, sampled uniformly."""

    def __init__(self, buffer_size: int, obs_dim: int, action_dim: int, device: torch.device, seed: int):
        self.obs = np.zeros((buffer_size, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((buffer_size, obs_dim), dtype=np.float32)
        self.actions = np.zeros((buffer_size, action_dim), dtype=np.float32)
        self.rewards = np.zeros(buffer_size, dtype=np.float32)
        self.terminations = np.zeros(buffer_size, dtype=np.float32)
        self.buffer_size, self.device = buffer_size, device
        self.pos, self.size = 0, 0
        self.rng = np.random.default_rng(seed)

    def add(self, obs, next_obs, actions, rewards, terminations):
        """Store a batch of transitions, overwriting the oldest once the buffer is full."""
        idx = (self.pos + np.arange(len(actions))) % self.buffer_size
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.terminations[idx] = terminations
        self.pos = (self.pos + len(actions)) % self.buffer_size
        self.size = min(self.size + len(actions), self.buffer_size)

    def sample(self, batch_size: int):
        idx = self.rng.integers(0, self.size, batch_size)
        return (
            torch.from_numpy(array[idx]).to(self.device)
            for array in (self.obs, self.actions, self.rewards, self.next_obs, self.terminations)
        )


def evaluate(
    actor: Actor,
    critic: Critic,
    envs,
    eval_episodes: int,
    seed: int,
    device: torch.device,
    gamma: float,
    stop_below: float | None = None,
):
    """Play `eval_episodes` episodes with the actor's greedy action, the Gaussian's mean squashed, in
    `envs`, one env made by `make_env`.

    Returns each episode's undiscounted return and, to show how far the critic is from the truth,
    the value the first critic predicted for the first state and the greedy action there, beside
    the discounted return that followed, Σ_t γ^t r_t. The first reset is seeded, so that every
    evaluation of a run starts from the same states and evaluations compare policies alone.
    Given `stop_below` (the stop rule's check gives it the threshold), it stops after the first
    episode below it: the check asks every episode to reach the threshold, so the rest could not
    change its answer.
    """
    returns, predicted, discounted = [], [], []
    for episode in range(eval_episodes):
        obs, _ = envs.reset(seed=seed if episode == 0 else None)
        with torch.no_grad():
            s = torch.as_tensor(obs, dtype=torch.float32, device=device)
            predicted.append(critic(s, actor(s))[0].item())
        done, discount, discounted_return = False, 1.0, 0.0
        while not done:
            with torch.no_grad():
                actions = actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()
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

    # ---- networks, optimizers, replay buffer ----
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    action_space = envs.single_action_space
    action_dim = action_space.shape[0]
    actor = Actor(obs_dim, action_space, args.hidden_size).to(device)
    critic = Critic(obs_dim, action_dim, args.hidden_size).to(device)
    target_critic = Critic(obs_dim, action_dim, args.hidden_size).to(device)
    target_critic.load_state_dict(critic.state_dict())
    # (θ1⁻, θ1), (θ2⁻, θ2) for Polyak
    param_pairs = list(zip(target_critic.parameters(), critic.parameters()))
    temperature = Temperature(args.alpha).to(device)
    target_entropy = -action_dim  # H̄ = −|A|
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, fused=True)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.critic_learning_rate, fused=True)
    alpha_optimizer = torch.optim.Adam(temperature.parameters(), lr=args.learning_rate)
    rb = ReplayBuffer(args.buffer_size, obs_dim, action_dim, device, args.seed)
    # what a checkpoint holds (the buffer with --save-buffer only), and a resumed run takes back
    learner = {
        "actor": actor,
        "critic": critic,
        "target_critic": target_critic,
        "temperature": temperature,
        "actor_optimizer": actor_optimizer,
        "critic_optimizer": critic_optimizer,
        "alpha_optimizer": alpha_optimizer,
        "buffer": rb,
    }

    # ---- the training loop ----
    obs, _ = envs.reset(seed=args.seed)
    autoreset = np.zeros(args.num_envs, dtype=bool)  # the envs whose next step only starts a new episode
    envs, obs, autoreset = run.resume(learner, (envs, obs, autoreset))  # as the checkpoint left them
    if args.evaluate:  # the checkpoint's policy, played greedily; nothing is trained
        evaluation = (eval_envs, args.eval_episodes, run.eval_seed, device, args.gamma)
        return run.evaluated(evaluate(actor, critic, *evaluation)[0], envs, eval_envs)
    num_iterations = args.total_timesteps // args.num_envs
    for iteration in range(run.step // args.num_envs + 1, num_iterations + 1):
        global_step = iteration * args.num_envs

        # uniform actions until learning starts, then drawn from π_φ(·|s)
        if global_step <= args.learning_starts:
            actions = envs.action_space.sample()
        else:
            with torch.no_grad():
                actions, _ = actor.sample(torch.as_tensor(obs, dtype=torch.float32, device=device))
            actions = actions.cpu().numpy()

        next_obs, rewards, terminations, truncations, infos = envs.step(actions)

        # a step that only reset its env joins two episodes: it is no transition, so keep it out
        keep = ~autoreset
        rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], terminations[keep])
        autoreset = terminations | truncations
        obs = next_obs
        run.log_episodes(global_step, infos)

        # ---- learning ----
        if rb.size > args.learning_starts:
            b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(args.batch_size)
            alpha = temperature().detach()
            with torch.no_grad():
                next_actions, next_log_prob = actor.sample(b_next_obs)
                next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob
                td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q
            q1_taken, q2_taken = critic(b_obs, b_actions)
            critic_loss = F.mse_loss(q1_taken, td_target) + F.mse_loss(q2_taken, td_target)
            if not torch.isfinite(critic_loss):  # Q-values that overflow make the loss inf or nan
                run.diverged = f"the critic's loss is {critic_loss.item()} at step {global_step:,}"
                break
            critic_optimizer.zero_grad()
            critic_loss.backward()
            critic_optimizer.step()

            # the actor trades the critics' value for entropy; the critics' gradients from this loss
            # are not used
            new_actions, log_prob = actor.sample(b_obs)
            actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()
            actor_optimizer.zero_grad()
            actor_loss.backward()
            actor_optimizer.step()

            # α follows the entropy toward H̄: down while −log π > H̄, up while below
            if args.autotune:
                alpha_loss = -(temperature() * (log_prob.detach() + target_entropy)).mean()
                alpha_optimizer.zero_grad()
                alpha_loss.backward()
                alpha_optimizer.step()

            # θ1⁻ ← τ θ1 + (1 − τ) θ1⁻, θ2⁻ likewise
            with torch.no_grad():
                for target_param, param in param_pairs:
                    target_param.lerp_(param, args.tau)

            if iteration % 100 == 0:
                losses = {
                    "losses/critic_loss": critic_loss.item(),
                    "losses/actor_loss": actor_loss.item(),
                    "losses/q_values": q1_taken.mean().item(),
                    "losses/entropy": -log_prob.mean().item(),
                    "charts/alpha": alpha.item(),
                }
                run.log(global_step, losses)

        # ---- report, evaluate, checkpoint ----
        run.progress(global_step)
        if run.solved_in_training:  # then solved if every episode of a greedy check is too
            checking = (eval_envs, args.check_episodes, run.check_seed, device, args.gamma, run.threshold)
            run.check(evaluate(actor, critic, *checking)[0], global_step)
        last_iteration = iteration == num_iterations or run.solved
        if last_iteration or run.due(args.eval_frequency, global_step):
            eval_returns, predicted, discounted = evaluate(
                actor, critic, eval_envs, args.eval_episodes, run.eval_seed, device, args.gamma
            )
            values = {
                "eval/predicted_value": np.mean(predicted),
                "eval/discounted_return": np.mean(discounted),
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
