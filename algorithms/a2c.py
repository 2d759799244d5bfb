"""Advantage actor-critic, synchronous (A2C), with generalized advantage estimation.

Mnih et al., "Asynchronous methods for deep reinforcement learning", ICML 2016 (the asynchronous
original, A3C, is `a3c.py`; this is its synchronous form). Schulman et al., "High-dimensional
continuous control using generalized advantage estimation", ICLR 2016 (GAE).

`num_envs` environments are stepped together for `num_steps` steps with the current policy π_θ;
the rollout, num_envs × num_steps transitions (s_t, a_t, r_t, s_{t+1}), gives one gradient step.
One network has a shared torso and two heads: the policy π_θ(·|s) and the state value V_θ(s).
For each transition the TD error δ_t says how much better the step went than V expected, and
the advantage Â_t sums the TD errors that follow it in its episode, discounted by γλ:

    δ_t = r_t + γ (1 − terminated_t) V_θ(s_{t+1}) − V_θ(s_t)
    Â_t = δ_t + γλ (1 − ended_t) Â_{t+1}             backwards from the rollout's last step, Â = 0 after it
    R_t = Â_t + V_θ(s_t)                              the λ-return: the critic's target

    L(θ) = − mean [ Â_t log π_θ(a_t|s_t) ] + c_v · mean [ (V_θ(s_t) − R_t)² ] − β · mean [ H(π_θ(·|s_t)) ]

Â_t and R_t are constants (no gradient flows through them). c_v is small, 0.005, because the
torso is shared: the value loss is a squared error of returns that reach 100 on CartPole, and
its gradient in the torso swamps the policy's unless it is weighed down; with the usual 0.5, some
seeds did not solve CartPole within the budget (docs/studies/policy-gradient-scaling.md). λ = 1
gives A3C's n-step return, R_t = r_t + γ r_{t+1} + … + γ^n V_θ(s_{t+n}) up to the rollout's end;
λ = 0 the one-step TD error of `actor_critic.py`; in between, less variance than the first and
less bias than the second. The gradient is clipped to a norm of at most `max_grad_norm` before the
Adam step: one rollout with a large TD error would otherwise move the shared torso far for both
heads at once.

Episode ends inside a rollout: a *terminated* episode has no future, V(s_{t+1}) is replaced by
0; a *truncated* one (a time limit) would have gone on, so its last step still bootstraps from
V of the state where it was cut. Either way the sum Â_t stops there (1 − ended_t): the next
episode's TD errors are not this one's. The envs autoreset on the step after an episode ends,
and that step, which joins two episodes, is no transition: it is left out of the loss.

Discrete actions: π_θ is a categorical distribution over the logits of the policy head.
Continuous actions (a Box): π_θ is a diagonal Gaussian, its mean the policy head and its log
standard deviation a learned parameter of its own, the same in every state; actions are clipped
to the bounds only when they are sent to the env, and learned from as they were sampled.

The defaults are tuned for CartPole. Continuous control needs settings of its own, those of the
well-tuned A2C setups (benchmarks/run.py, for Pendulum-v1): observations normalised by their running
mean and standard deviation (`--normalize-observation`); rewards divided by the running standard
deviation of the discounted return G = r + γ G, then clipped to ±10 (`--normalize-reward`), so that
the values the critic regresses on are of unit size and c_v = 0.4 no longer lets the value loss
swamp the policy's in the shared torso; γ = 0.9 and λ = 0.9, for Pendulum's dense reward; no entropy
bonus; and a learning rate that falls to 0 over the run (`--anneal-lr`): at a constant one the
policy reached −200 and fell back, again and again. The observations' statistics are buffers of the
network and the return's a part of the learner: both are saved in every checkpoint and restored on
resume, and the evaluation uses the observations' as they are, without updating them.

What differs from `actor_critic.py`: rollouts of num_steps, not one step, and GAE(λ) over them;
one network with a shared torso, one loss and one optimizer instead of two networks and two;
the gradient-norm clip; the advantages scaled to unit spread per rollout, as that file scales δ
(see its docstring: it keeps the size of the policy step the same while returns grow a
hundredfold); continuous actions.

Actions are sampled from π_θ while training; evaluation takes the most probable action (the
mean, for a Gaussian).

Run:
    python algorithms/a2c.py --env-id CartPole-v1
    python algorithms/a2c.py --env-id CartPole-v1 --gae-lambda 1    # the n-step return of the A3C paper
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
from torch.distributions import Categorical, Independent, Normal


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
    """the id of the environment (discrete or continuous actions)"""
    total_timesteps: int = 200_000
    """total environment steps of the experiment, all environments counted"""
    num_envs: int = 8
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
    num_steps: int = 8
    """the steps of each environment in a rollout: num_envs × num_steps transitions per update"""
    learning_rate: float = 5e-3
    """the learning rate of the optimizer"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """λ of GAE(λ): 1 gives the n-step return, 0 the one-step TD error"""
    ent_coef: float = 0.01
    """β, the weight of the entropy bonus"""
    vf_coef: float = 0.005
    """c_v, the weight of the value loss"""
    max_grad_norm: float = 0.5
    """the largest norm the gradient is clipped to"""
    hidden_size: int = 64
    """the width of the two hidden layers of the shared torso"""
    anneal_lr: bool = False
    """if toggled, the learning rate falls linearly to 0 over the budget the run was started with"""
    normalize_observation: bool = False
    """if toggled, the network sees each observation less the running mean, over the running std"""
    normalize_reward: bool = False
    """if toggled, the rewards are divided by the running std of the discounted return, then clipped to ±10"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)", "eval_episodes": "(0, inf)",
    "eval_frequency": "[0, inf)", "checkpoint_frequency": "[0, inf)", "check_episodes": "(0, inf)",
    "num_steps": "(0, inf)", "learning_rate": "(0, inf)", "gamma": "[0, 1]", "gae_lambda": "[0, 1]",
    "ent_coef": "[0, inf)", "vf_coef": "[0, inf)", "max_grad_norm": "(0, inf)", "hidden_size": "(0, inf)",
}  # fmt: skip


def unmet_requirement(args: Args, env: gym.Env) -> str | None:
    """What this file cannot run besides BOUNDS, as the line that says why; None when it can."""
    space = env.action_space
    if not (
        isinstance(space, gym.spaces.Discrete)
        or (isinstance(space, gym.spaces.Box) and len(space.shape) == 1)
    ):
        return f"--env-id {args.env_id} has actions {space}, neither a discrete action space nor a vector of continuous ones"
    if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
        return f"--env-id {args.env_id} has observations {env.observation_space}, not flat vectors"
    if args.total_timesteps < args.num_envs * args.num_steps:
        return (
            f"--total-timesteps {args.total_timesteps} is less than one rollout "
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


class RunningMeanStd(nn.Module):
    """The mean and variance of all the samples seen so far, merged batch by batch (Chan et al.'s
    parallel algorithm), in float64. They start from a prior of mean 0 and variance 1 that weighs as
    1e-4 of a sample, as in gymnasium's and Stable-Baselines' normalisation, so that a first batch of
    one sample gives a variance that is small but not 0. Buffers, saved and loaded with the module."""

    def __init__(self, shape=()):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def update(self, x: np.ndarray):
        x = torch.as_tensor(x, dtype=torch.float64, device=self.mean.device)
        n = len(x)
        if n == 0:
            return
        delta, total = x.mean(dim=0) - self.mean, self.count + n
        spread = self.var * self.count + x.var(dim=0, unbiased=False) * n + delta**2 * self.count * n / total
        self.var.copy_(spread / total)
        self.mean.add_(delta * n / total)
        self.count.copy_(total)

    def std(self) -> torch.Tensor:
        return (self.var + 1e-8).sqrt()


class ActorCritic(nn.Module):
    """A shared torso, then two heads: π_θ(·|s), a distribution over the actions, and V_θ(s). With
    `normalize_observation`, the torso sees (s − μ_s) / σ_s, clipped to ±10, μ_s and σ_s the running
    statistics of the observations, which the training loop updates and which are saved with the weights."""

    def __init__(
        self,
        obs_dim: int,
        action_space: gym.spaces.Space,
        hidden_size: int,
        normalize_observation: bool = False,
    ):
        super().__init__()
        self.obs_rms = RunningMeanStd(obs_dim) if normalize_observation else None
        self.continuous = isinstance(action_space, gym.spaces.Box)
        n_out = action_space.shape[0] if self.continuous else action_space.n
        self.torso = nn.Sequential(
            nn.Linear(obs_dim, hidden_size),
            nn.Tanh(),
            nn.Linear(hidden_size, hidden_size),
            nn.Tanh(),
        )
        self.policy_head = nn.Linear(hidden_size, n_out)  # the logits, or the Gaussian's mean
        self.value_head = nn.Linear(hidden_size, 1)
        if self.continuous:
            self.log_std = nn.Parameter(torch.zeros(n_out))  # σ = 1 at first: wide exploration

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(s − μ_s) / σ_s clipped to ±10 with `normalize_observation`, s itself without."""
        if self.obs_rms is None:
            return x
        return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(-10, 10).float()

    def forward(self, x: torch.Tensor):
        """π_θ(·|s) and V_θ(s)."""
        h = self.torso(self.normalize(x))
        out = self.policy_head(h)
        # independent Gaussians: log π and H sum over the action's dimensions
        pi = Independent(Normal(out, self.log_std.exp()), 1) if self.continuous else Categorical(logits=out)
        return pi, self.value_head(h).squeeze(-1)

    def greedy(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable action: the argmax of the logits, or the Gaussian's mean."""
        out = self.policy_head(self.torso(self.normalize(x)))
        return out if self.continuous else out.argmax(dim=1)


class Rollout:
    """The last `num_steps` steps of `num_envs` environments, row t holding step t of every env.

    `obs` has one row more: the observations the last step led to, from which the last
    transitions bootstrap. `real[t, i]` is False where env i only reset at step t (the step after
    an episode's end), a step that is no transition. Preallocated once, overwritten every rollout.
    """

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, action_shape: tuple, action_dtype):
        self.obs = np.zeros((num_steps + 1, num_envs, obs_dim), dtype=np.float32)
        self.actions = np.zeros((num_steps, num_envs, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.terminated = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.ended = np.zeros((num_steps, num_envs), dtype=np.float32)  # terminated or truncated
        self.real = np.zeros((num_steps, num_envs), dtype=bool)

    def add(self, t: int, obs, actions, rewards, terminations, truncations, autoreset):
        self.obs[t], self.actions[t], self.rewards[t] = obs, actions, rewards
        self.terminated[t], self.ended[t] = terminations, terminations | truncations
        self.real[t] = ~autoreset

    def advantages(self, values: np.ndarray, gamma: float, gae_lambda: float) -> np.ndarray:
        """Â_t = δ_t + γλ (1 − ended_t) Â_{t+1}, backwards; `values` holds V(s_t) for every row of obs."""
        delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]
        advantages = np.zeros_like(delta)
        running = np.zeros_like(delta[0])
        for t in reversed(range(len(delta))):
            running = delta[t] + gamma * gae_lambda * (1 - self.ended[t]) * running
            advantages[t] = running
        return advantages


def evaluate(
    agent: ActorCritic,
    envs,
    eval_episodes: int,
    seed: int,
    device: torch.device,
    stop_below: float | None = None,
):
    """Play `eval_episodes` episodes in `envs`, one env made by `make_env`, taking the most
    probable action, and return their undiscounted returns. The first reset is seeded, so that
    every evaluation of a run starts from the same states and evaluations compare policies alone.
    Given `stop_below` (the stop rule's check gives it the threshold), it stops after the first
    episode below it: the check asks every episode to reach the threshold, so the rest could not
    change its answer.
    """
    returns = []
    for episode in range(eval_episodes):
        obs, _ = envs.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            with torch.no_grad():
                actions = agent.greedy(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()
            obs, _, terminations, truncations, infos = envs.step(to_env(actions, envs.single_action_space))
            done = terminations[0] or truncations[0]
        returns.append(float(infos["episode"]["r"][0]))
        if stop_below is not None and returns[-1] < stop_below:
            break
    return returns


def to_env(actions: np.ndarray, space: gym.spaces.Space) -> np.ndarray:
    """Continuous actions clipped to the env's bounds; the Gaussian's samples are not bounded."""
    return np.clip(actions, space.low, space.high) if isinstance(space, gym.spaces.Box) else actions


def train(args: Args) -> dict:
    run = Run(args)  # refuses bad input, seeds, opens the run directory; reads the checkpoint of --resume
    device = run.device
    envs = make_env(args.env_id, args.num_envs, args.seed, args.capture_video, f"videos/{run.name}")
    eval_envs = make_env(args.env_id, 1, args.seed, args.capture_video, f"videos/{run.name}-eval")

    # ---- network, optimizer, rollout storage ----
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    action_space = envs.single_action_space
    agent = ActorCritic(obs_dim, action_space, args.hidden_size, args.normalize_observation).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, fused=True)
    rollout = Rollout(args.num_steps, args.num_envs, obs_dim, action_space.shape, action_space.dtype)
    # the statistics of the discounted return, for --normalize-reward: on the CPU, with the rewards
    return_rms = RunningMeanStd()
    # what a checkpoint holds, and a resumed run takes back
    learner = {"agent": agent, "optimizer": optimizer, "return_rms": return_rms}

    # ---- the training loop ----
    obs, _ = envs.reset(seed=args.seed)
    autoreset = np.zeros(args.num_envs, dtype=bool)  # the envs whose next step only starts a new episode
    discounted = np.zeros(args.num_envs)  # each env's discounted return so far, for --normalize-reward
    # as the checkpoint left them
    envs, obs, autoreset, discounted = run.resume(learner, (envs, obs, autoreset, discounted))
    if args.evaluate:  # the checkpoint's policy, played greedily; nothing is trained
        return run.evaluated(
            evaluate(agent, eval_envs, args.eval_episodes, run.eval_seed, device), envs, eval_envs
        )
    batch_size = args.num_envs * args.num_steps
    num_iterations = args.total_timesteps // batch_size
    for iteration in range(run.step // batch_size + 1, num_iterations + 1):
        if args.anneal_lr:  # over the budget the run began with, as every schedule: 0 past it
            done = (iteration - 1) * batch_size / run.planned_steps
            optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)
        for t in range(args.num_steps):
            global_step = (iteration - 1) * batch_size + (t + 1) * args.num_envs
            if args.normalize_observation:
                agent.obs_rms.update(obs[~autoreset])
            with torch.no_grad():
                pi, _ = agent(torch.as_tensor(obs, dtype=torch.float32, device=device))
                actions = pi.sample().cpu().numpy()
            next_obs, rewards, terminations, truncations, infos = envs.step(to_env(actions, action_space))
            if args.normalize_reward:  # r / σ_G, G = r + γ G the discounted return, restarted in each episode
                discounted = args.gamma * discounted * ~autoreset + rewards
                return_rms.update(discounted[~autoreset])
                # clipped to ±10, as the reference implementations do: σ_G of the first few returns can
                # be tiny (of one return, ~1e-2 |G|), and a reward of 100 would swamp the first updates
                rewards = np.clip(rewards / return_rms.std().item(), -10, 10)
            rollout.add(t, obs, actions, rewards, terminations, truncations, autoreset)
            run.log_episodes(global_step, infos)
            autoreset = terminations | truncations
            obs = next_obs
        rollout.obs[args.num_steps] = obs

        # ---- learning ----
        real = torch.as_tensor(rollout.real, device=device)
        if real.any():  # a rollout of one step in which every env only reset has nothing to learn from
            b_obs = torch.as_tensor(rollout.obs, device=device)
            pi, values = agent(b_obs[:-1])
            with torch.no_grad():
                all_values = torch.cat([values, agent(b_obs[-1:])[1]]).cpu().numpy()
            advantages = torch.as_tensor(
                rollout.advantages(all_values, args.gamma, args.gae_lambda), device=device
            )
            returns = advantages + values.detach()  # R_t, the critic's target
            # Â in units of its spread over the rollout (a single transition has none, and is left as it is)
            advantages = advantages[real]
            if len(advantages) > 1:
                advantages = advantages / (advantages.std() + 1e-8)
            log_probs = pi.log_prob(torch.as_tensor(rollout.actions, device=device))[real]
            policy_loss = -(advantages * log_probs).mean()
            value_loss = ((values - returns)[real] ** 2).mean()
            entropy = pi.entropy()[real].mean()
            loss = policy_loss + args.vf_coef * value_loss - args.ent_coef * entropy
            if not torch.isfinite(loss):  # values that overflow make the loss inf or nan
                run.diverged = f"the loss is {loss.item()} at step {global_step:,}"
                break
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()

            if iteration % 10 == 0:
                losses = {
                    "losses/policy_loss": policy_loss,
                    "losses/value_loss": value_loss,
                    "losses/entropy": entropy,
                }
                run.log(global_step, {tag: loss.item() for tag, loss in losses.items()})

        # ---- report, evaluate, checkpoint ----
        run.progress(global_step)
        if run.solved_in_training:  # then solved if every episode of a greedy check is too
            run.check(
                evaluate(agent, eval_envs, args.check_episodes, run.check_seed, device, run.threshold),
                global_step,
            )
        last_iteration = iteration == num_iterations or run.solved
        if last_iteration or run.due(args.eval_frequency, global_step):
            eval_returns = evaluate(agent, eval_envs, args.eval_episodes, run.eval_seed, device)
            run.log_evaluation(global_step, eval_returns)
        if run.end_step(global_step, last_iteration, learner, (envs, obs, autoreset, discounted)):
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
