"""REINFORCE: Monte-Carlo policy gradient, with a learned state-value baseline.

Williams, "Simple statistical gradient-following algorithms for connectionist reinforcement
learning", Machine Learning 1992. Sutton & Barto, "Reinforcement Learning: An Introduction",
2nd ed., section 13.3-13.4.

A stochastic policy π_θ(a|s) is improved by gradient ascent on its expected return
J(θ) = E_τ~π_θ [Σ_t γ^t r_t]. The policy gradient theorem turns the gradient of that expectation
into an expectation that episodes played with π_θ estimate:

    ∇_θ J(θ) = E [ Σ_t ∇_θ log π_θ(a_t|s_t) · (G_t − b(s_t)) ]

    G_t = Σ_{k≥0} γ^k r_{t+k}               the reward-to-go: what followed action a_t, nothing before

Why it holds: ∇_θ E[f] = E[f ∇_θ log p_θ(τ)] (the log-derivative trick), and log p_θ(τ) is
Σ_t log π_θ(a_t|s_t) plus terms of the environment that do not depend on θ. Rewards earned
before t do not depend on a_t, so they drop out of the term of a_t and leave the reward-to-go.
Any baseline b(s_t) that does not depend on a_t leaves the expectation unchanged, since
E_a[∇ log π(a|s)] = ∇ Σ_a π(a|s) = ∇ 1 = 0, but a good one removes much of its variance. We
learn b(s) = V_φ(s) by regression on the returns, and with it the update from a batch of
whole episodes is

    ψ_t   = G_t − V_φ(s_t)                   (G_t without a baseline)
    L(θ)  = − mean_t [ log π_θ(a_t|s_t) · ψ_t ]          one gradient step on θ
    L(φ)  =   mean_t [ (V_φ(s_t) − G_t)² ]                one gradient step on φ

ψ_t is a constant for the policy step (no gradient flows into V_φ through it). With
`normalize_returns` the ψ_t of a batch are scaled to zero mean and unit variance: returns grow
a hundredfold as CartPole is learned, and without the scaling the size of the policy step grows
with them, so one learning rate would be too small early and too large late.

Episodes: each iteration plays exactly one whole episode in each of the `num_envs`
environments, all with the current policy, then updates; this keeps the method on-policy. An
episode that *terminates* has G_T = r_T. An episode *truncated* by a time limit would have
gone on, so with a baseline its last return bootstraps: G_T = r_T + γ V_φ(s_{T+1}). An episode
that does both at once (the pole falls on the last step the time limit allows) terminated.

Actions are sampled from π_θ while training; evaluation takes the most probable action.

Run:
    python algorithms/reinforce.py --env-id CartPole-v1
    python algorithms/reinforce.py --env-id Acrobot-v1 --total-timesteps 500000
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
from torch.distributions import Categorical


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
    num_envs: int = 8
    """the number of parallel game environments: the episodes in each batch"""
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
    learning_rate: float = 7e-3
    """the learning rate of the policy's optimizer"""
    value_learning_rate: float = 1e-2
    """the learning rate of the baseline's optimizer"""
    gamma: float = 0.99
    """the discount factor gamma"""
    hidden_size: int = 64
    """the width of the two hidden layers of the policy and of the baseline"""
    baseline: bool = True
    """if toggled, subtract a learned state-value baseline V(s) from the returns"""
    normalize_returns: bool = True
    """if toggled, scale the returns (less the baseline) of each batch to zero mean, unit variance"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)", "eval_episodes": "(0, inf)",
    "eval_frequency": "[0, inf)", "checkpoint_frequency": "[0, inf)", "check_episodes": "(0, inf)",
    "learning_rate": "(0, inf)", "value_learning_rate": "(0, inf)", "gamma": "[0, 1]", "hidden_size": "(0, inf)",
}  # fmt: skip


def unmet_requirement(args: Args, env: gym.Env) -> str | None:
    """What this file cannot run besides BOUNDS, as the line that says why; None when it can."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        return f"--env-id {args.env_id} has actions {env.action_space}, not a discrete action space"
    if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
        return f"--env-id {args.env_id} has observations {env.observation_space}, not flat vectors"
    if env.spec.max_episode_steps is None:
        return f"--env-id {args.env_id} has no time limit; REINFORCE learns from whole episodes"
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


def mlp(in_size: int, out_size: int, hidden_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_size, hidden_size),
        nn.Tanh(),
        nn.Linear(hidden_size, hidden_size),
        nn.Tanh(),
        nn.Linear(hidden_size, out_size),
    )


class Policy(nn.Module):
    """π_θ(·|s): an observation in, a categorical distribution over the actions out."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_size: int):
        super().__init__()
        self.logits = mlp(obs_dim, n_actions, hidden_size)

    def forward(self, x: torch.Tensor) -> Categorical:
        return Categorical(logits=self.logits(x))


class Baseline(nn.Module):
    """V_φ(s): an observation in, the expected return from it out."""

    def __init__(self, obs_dim: int, hidden_size: int):
        super().__init__()
        self.value = mlp(obs_dim, 1, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value(x).squeeze(-1)


class EpisodeBatch:
    """One whole episode from each of `num_envs` environments, stored step by step.

    Row t holds step t of every episode. Episodes end at different steps: `alive[t, i]` says
    whether episode i was still running at step t, and `ends[t, i]` whether step t was its last.
    Preallocated for the longest episode the environment allows.
    """

    def __init__(self, max_steps: int, num_envs: int, obs_dim: int):
        self.obs = np.zeros((max_steps, num_envs, obs_dim), dtype=np.float32)
        self.actions = np.zeros((max_steps, num_envs), dtype=np.int64)
        self.rewards = np.zeros((max_steps, num_envs), dtype=np.float32)
        self.alive = np.zeros((max_steps, num_envs), dtype=bool)
        self.ends = np.zeros((max_steps, num_envs), dtype=bool)
        self.last_obs = np.zeros((num_envs, obs_dim), dtype=np.float32)  # s_{T+1}, where the last step led
        self.truncated = np.zeros(num_envs, dtype=bool)

    def add(self, t: int, obs, actions, rewards, alive, terminations, truncations, next_obs):
        """Store step t of every episode; an episode still alive ends here if it terminated or was
        truncated. One that did both (the pole falls on the time limit's last step) terminated:
        its return is cut, not bootstrapped."""
        ended = alive & (terminations | truncations)
        self.obs[t], self.actions[t], self.rewards[t] = obs, actions, rewards
        self.alive[t], self.ends[t] = alive, ended
        self.last_obs[ended] = next_obs[ended]
        self.truncated[ended] = truncations[ended] & ~terminations[ended]
        return ended

    def returns(self, length: int, gamma: float, bootstrap: np.ndarray) -> np.ndarray:
        """G_t = r_t + γ G_{t+1}, backwards from each episode's end, where G_T = r_T + γ·bootstrap."""
        returns = np.zeros((length, len(bootstrap)), dtype=np.float32)
        running = bootstrap
        for t in reversed(range(length)):
            running = self.rewards[t] + gamma * np.where(self.ends[t], bootstrap, running)
            returns[t] = running
        return returns


def evaluate(
    policy: Policy, envs, eval_episodes: int, seed: int, device: torch.device, stop_below: float | None = None
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
                actions = policy.logits(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy()
            obs, _, terminations, truncations, infos = envs.step(actions)
            done = terminations[0] or truncations[0]
        returns.append(float(infos["episode"]["r"][0]))
        if stop_below is not None and returns[-1] < stop_below:
            break
    return returns


def train(args: Args) -> dict:
    run = Run(args)  # refuses bad input, seeds, opens the run directory; reads the checkpoint of --resume
    device = run.device
    envs = make_env(args.env_id, args.num_envs, args.seed, args.capture_video, f"videos/{run.name}")
    eval_envs = make_env(args.env_id, 1, args.seed, args.capture_video, f"videos/{run.name}-eval")

    # ---- networks, optimizers, episode storage ----
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    n_actions = int(envs.single_action_space.n)
    policy = Policy(obs_dim, n_actions, args.hidden_size).to(device)
    baseline = Baseline(obs_dim, args.hidden_size).to(device)
    policy_optimizer = torch.optim.Adam(policy.parameters(), lr=args.learning_rate, fused=True)
    baseline_optimizer = torch.optim.Adam(baseline.parameters(), lr=args.value_learning_rate, fused=True)
    batch = EpisodeBatch(gym.spec(args.env_id).max_episode_steps, args.num_envs, obs_dim)
    # what a checkpoint holds, and a resumed run takes back
    learner = {
        "policy": policy,
        "baseline": baseline,
        "policy_optimizer": policy_optimizer,
        "baseline_optimizer": baseline_optimizer,
    }

    # ---- the training loop ----
    obs, _ = envs.reset(seed=args.seed)
    envs, obs = run.resume(learner, (envs, obs))  # as the checkpoint left them
    if args.evaluate:  # the checkpoint's policy, played greedily; nothing is trained
        return run.evaluated(
            evaluate(policy, eval_envs, args.eval_episodes, run.eval_seed, device), envs, eval_envs
        )
    global_step = run.step
    while global_step < args.total_timesteps:
        # play one episode in every env; an env whose episode is over idles until all are over
        alive = np.ones(args.num_envs, dtype=bool)
        t = 0
        while alive.any():
            with torch.no_grad():
                actions = policy(torch.as_tensor(obs, device=device)).sample().cpu().numpy()
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            ended = batch.add(t, obs, actions, rewards, alive, terminations, truncations, next_obs)
            global_step += int(alive.sum())
            alive &= ~ended
            obs = next_obs
            t += 1
            run.log_episodes(global_step, infos, ended)  # an idle env may finish more: not in the batch
        length = t
        obs, _ = envs.reset()

        # ---- learning ----
        bootstrap = np.zeros(args.num_envs, dtype=np.float32)
        if args.baseline:  # V(s_{T+1}) after a truncation; 0 after a termination
            with torch.no_grad():
                last_values = baseline(torch.as_tensor(batch.last_obs, device=device)).cpu().numpy()
            bootstrap = np.where(batch.truncated, last_values, 0.0)
        steps = batch.alive[:length]  # the steps episodes were running, one row per (t, i)
        b_obs = torch.as_tensor(batch.obs[:length][steps], device=device)
        b_actions = torch.as_tensor(batch.actions[:length][steps], device=device)
        b_returns = torch.as_tensor(batch.returns(length, args.gamma, bootstrap)[steps], device=device)

        values = baseline(b_obs)
        psi = b_returns - values.detach() if args.baseline else b_returns
        # a batch of a single step has no spread, and is left as it is
        if args.normalize_returns and len(psi) > 1:
            psi = (psi - psi.mean()) / (psi.std() + 1e-8)
        policy_loss = -(policy(b_obs).log_prob(b_actions) * psi).mean()
        value_loss = ((values - b_returns) ** 2).mean()
        if not (torch.isfinite(policy_loss) and torch.isfinite(value_loss)):
            run.diverged = f"the losses are {policy_loss.item()}, {value_loss.item()} at step {global_step:,}"
            break
        policy_optimizer.zero_grad()
        policy_loss.backward()
        policy_optimizer.step()
        losses = {"losses/policy_loss": policy_loss.item()}
        if args.baseline:
            baseline_optimizer.zero_grad()
            value_loss.backward()
            baseline_optimizer.step()
            losses["losses/value_loss"] = value_loss.item()
        run.log(global_step, losses)

        # ---- report, evaluate, checkpoint ----
        run.progress(global_step)
        if run.solved_in_training:  # then solved if every episode of a greedy check is too
            run.check(
                evaluate(policy, eval_envs, args.check_episodes, run.check_seed, device, run.threshold),
                global_step,
            )
        last_batch = global_step >= args.total_timesteps or run.solved
        if last_batch or run.due(args.eval_frequency, global_step):
            eval_returns = evaluate(policy, eval_envs, args.eval_episodes, run.eval_seed, device)
            run.log_evaluation(global_step, eval_returns)
        if run.end_step(global_step, last_batch, learner, (envs, obs)):
            break  # the last batch, or the first after Ctrl-C or SIGTERM
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
