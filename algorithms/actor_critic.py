"""One-step actor-critic.

Sutton & Barto, "Reinforcement Learning: An Introduction", 2nd ed., section 13.5; the idea
goes back to Barto, Sutton & Anderson, "Neuronlike adaptive elements that can solve difficult
learning control problems", IEEE SMC 1983.

REINFORCE weighs ∇ log π_θ(a_t|s_t) by the whole reward-to-go G_t, which is unbiased but noisy
and known only when the episode is over. The one-step actor-critic replaces G_t by a one-step
estimate built from a learned state-value function, the critic V_φ, and so learns from every
transition as soon as it happens. For a transition (s, a, r, s') the TD error

    δ = r + γ (1 − terminated) V_φ(s') − V_φ(s)

is the advantage of a over what V_φ expected from s: positive when a turned out better than
expected. The actor (the policy π_θ) and the critic then take one gradient step each:

    δ̂    = δ / std(δ)                                                  δ in units of its spread
    L(θ) = − mean [ δ̂ · log π_θ(a|s) ] − β · mean [ H(π_θ(·|s)) ]     actor, δ̂ a constant
    L(φ) =   mean [ (V_φ(s) − (r + γ (1 − terminated) V_φ(s')))² ]    critic, the target a constant

H is the entropy of the policy: the bonus β·H keeps π_θ from collapsing onto one action before
the critic can tell the actions apart. A *terminated* episode has no future: V(s') is replaced
by 0. A *truncated* one would have gone on: the last transition still bootstraps through V(s').
The γ^t factor of the textbook's pseudo-code is dropped, as in practice everywhere: it would
weigh late steps of an episode almost to nothing.

The std of δ is taken over the batch. Scaling δ keeps its sign and the ranking of the actions,
and so the direction in which each log π_θ(a|s) moves; what it fixes is the size of the
policy-gradient term. The TD errors grow with the values, from tenths while episodes are short
to tens once V is near 100 and a pole falls; unscaled, they let the entropy bonus, of fixed
size, matter early and not at all late, and their spikes jolt Adam's step sizes. On CartPole,
with δ unscaled, 10 of seeds 1–20 had not solved after 250,000 steps, three of them collapsed
onto one action; with δ̂, all 20 solve, one after a collapse it climbed back from at 370,000
steps: hence the budget of 500,000 (benchmarks/RESULTS.md).

Each step of the `num_envs` environments gives one mean over `num_envs` transitions. Actor and
critic are separate networks with their own learning rates: with a shared body, the critic's
regression on returns of a few hundred would swamp the actor's gradient, and the actor needs
the smaller step (a policy that moves faster than its critic can follow collapses).

Actions are sampled from π_θ while training; evaluation takes the most probable action.

Run:
    python algorithms/actor_critic.py --env-id CartPole-v1
    python algorithms/actor_critic.py --env-id Acrobot-v1 --total-timesteps 500000
    tensorboard --logdir runs
"""

import functools
import os
import pickle
import random
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from importlib.util import find_spec

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.distributions import Categorical
from torch.utils.tensorboard import SummaryWriter


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
    total_timesteps: int = 500_000
    """total environment steps of the experiment, all environments counted"""
    num_envs: int = 64
    """the number of parallel game environments: the transitions in each update"""
    eval_episodes: int = 10
    """the number of greedy episodes of each evaluation"""
    eval_frequency: int = 0
    """evaluate every this many environment steps as well as at the end (0: only at the end)"""
    stop_when_solved: bool = True
    """stop once the last 10 training returns, then a greedy evaluation, reach the env's reward threshold"""
    checkpoint_frequency: int = 0
    """also save a checkpoint every this many environment steps (0: only when the run ends or stops)"""
    resume: str | None = None
    """continue the run saved in this checkpoint, with the same arguments"""

    # Algorithm specific arguments
    learning_rate: float = 1e-3
    """the learning rate of the actor's optimizer"""
    critic_learning_rate: float = 3e-3
    """the learning rate of the critic's optimizer"""
    gamma: float = 0.99
    """the discount factor gamma"""
    ent_coef: float = 0.01
    """β, the weight of the entropy bonus"""
    hidden_size: int = 64
    """the width of the two hidden layers of the actor and of the critic"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)", "eval_episodes": "(0, inf)",
    "eval_frequency": "[0, inf)", "checkpoint_frequency": "[0, inf)",
    "learning_rate": "(0, inf)", "critic_learning_rate": "(0, inf)", "gamma": "[0, 1]", "ent_coef": "[0, inf)",
    "hidden_size": "(0, inf)",
}  # fmt: skip


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


class Actor(nn.Module):
    """π_θ(·|s): an observation in, a categorical distribution over the actions out."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_size: int):
        super().__init__()
        self.logits = mlp(obs_dim, n_actions, hidden_size)

    def forward(self, x: torch.Tensor) -> Categorical:
        return Categorical(logits=self.logits(x))


class Critic(nn.Module):
    """V_φ(s): an observation in, the expected return from it out."""

    def __init__(self, obs_dim: int, hidden_size: int):
        super().__init__()
        self.value = mlp(obs_dim, 1, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value(x).squeeze(-1)


def evaluate(actor: Actor, envs, eval_episodes: int, seed: int, device: torch.device):
    """Play `eval_episodes` episodes in `envs`, one env made by `make_env`, taking the most
    probable action, and return their undiscounted returns. The first reset is seeded, so that
    every evaluation of a run starts from the same states and evaluations compare policies alone.
    """
    returns = []
    for episode in range(eval_episodes):
        obs, _ = envs.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            with torch.no_grad():
                actions = actor.logits(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy()
            obs, _, terminations, truncations, infos = envs.step(actions)
            done = terminations[0] or truncations[0]
        returns.append(float(infos["episode"]["r"][0]))
    return returns


# ---- plumbing, the same in every file: refusing bad input, writing and reading checkpoints ----
ALGORITHM = os.path.basename(__file__).removesuffix(".py")


def fail(message: str):
    """Bad input ends the run here: one line naming the problem and the flag, exit status 2."""
    print(f"{ALGORITHM}.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_args(args: Args):
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
    if not isinstance(env.action_space, gym.spaces.Discrete):
        fail(
            f"--env-id {args.env_id} has actions {env.action_space}; this file needs a discrete action space"
        )
    if not (isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1):
        fail(f"--env-id {args.env_id} has observations {env.observation_space}; this file needs flat vectors")
    env.close()
    if args.track and find_spec("wandb") is None:
        fail("--track needs wandb, which is not installed (pip install wandb)")


# What a resumed run may take from the command line: a longer budget, and what does not change how it
# learns. Every other argument is the checkpoint's, and a command line that says otherwise is refused.
MAY_CHANGE_ON_RESUME = (
    "total_timesteps", "cuda", "track", "wandb_project_name", "wandb_entity", "capture_video",
    "save_model", "save_buffer", "checkpoint_frequency", "eval_frequency", "resume",
)  # fmt: skip


def load_checkpoint(path: str, args: Args) -> dict:
    """Read the checkpoint to resume from, refusing one that cannot continue this run."""
    if not os.path.isfile(path):
        fail(f"--resume {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        saved = checkpoint["args"]
    except Exception as e:  # a truncated or foreign file fails in many ways, all meaning "unreadable"
        fail(f"--resume {path}: not a readable checkpoint ({type(e).__name__})")
    if checkpoint.get("algorithm") != ALGORITHM:
        fail(f"--resume {path}: the checkpoint is of {checkpoint.get('algorithm')}, not of {ALGORITHM}")
    if checkpoint["iteration"] * args.num_envs >= args.total_timesteps:
        fail(
            f"--resume {path}: the run is complete at --total-timesteps {args.total_timesteps}; raise it to go on"
        )
    for name, value in saved.items():
        if name not in MAY_CHANGE_ON_RESUME and getattr(args, name, value) != value:
            fail(
                f"--resume {path}: the checkpoint has --{name.replace('_', '-')} {value}, not {getattr(args, name)}; "
                "a resumed run keeps its arguments (README, Stopping and resuming)"
            )
    changed = [
        f"--{name.replace('_', '-')} {getattr(args, name)} (was {value})"
        for name, value in saved.items()
        if name != "resume" and getattr(args, name, value) != value
    ]
    if changed:
        print(f"resuming with the checkpoint's arguments, and from the command line: {', '.join(changed)}")
    return checkpoint


def save_checkpoint(path: str, checkpoint: dict):
    """Write to a temporary file, then rename it over `path`: a kill during the write leaves the
    previous checkpoint whole, never half a file."""
    torch.save(checkpoint, path + ".tmp")
    os.replace(path + ".tmp", path)


def env_state(envs) -> bytes | None:
    """The vector env pickled in the middle of its episodes, so that a resumed run plays them on;
    None where an env cannot be pickled (a Box2D world, an env rendering video)."""
    try:
        return pickle.dumps(envs)
    except Exception:  # pickling fails with whatever the unpicklable part raises
        return None


def train(args: Args) -> dict:
    check_args(args)
    checkpoint = load_checkpoint(args.resume, args) if args.resume else None

    # ---- seeding, device, logging ----
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    # a small network's operations are too short to share between threads: the hand-off costs
    # more than it saves, and idle threads spin against other processes on a shared machine
    torch.set_num_threads(1)
    device = torch.device("cuda" if args.cuda and torch.cuda.is_available() else "cpu")
    if args.cuda and device.type == "cpu":
        print("notice: --cuda given but no GPU is available; training on the CPU")
    run_name = (
        checkpoint["run_name"]
        if checkpoint
        else f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    )
    model_path = f"runs/{run_name}/{args.exp_name}.pt"
    if args.track:
        import wandb  # imported only here, so that wandb is needed only with --track

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=vars(args),
            name=run_name,
            save_code=True,
            resume="allow",
        )
    start_iteration = checkpoint["iteration"] + 1 if checkpoint else 1
    # a resumed run logs on in the same directory; purge_step hides what the stopped run may have
    # logged after its checkpoint
    writer = SummaryWriter(
        f"runs/{run_name}", purge_step=start_iteration * args.num_envs if checkpoint else None
    )
    if not checkpoint:
        writer.add_text(
            "hyperparameters",
            "|param|value|\n|-|-|\n" + "\n".join(f"|{key}|{value}|" for key, value in vars(args).items()),
        )
    envs = make_env(args.env_id, args.num_envs, args.seed, args.capture_video, f"videos/{run_name}")
    eval_envs = make_env(args.env_id, 1, args.seed, args.capture_video, f"videos/{run_name}-eval")
    eval_seed = args.seed + 100_000  # episodes the training envs never start from
    check_seed = args.seed + 200_000  # and others again, to confirm that a run is solved

    # ---- networks and optimizers (no storage: each transition is learned from once, at once) ----
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    n_actions = int(envs.single_action_space.n)
    actor = Actor(obs_dim, n_actions, args.hidden_size).to(device)
    critic = Critic(obs_dim, args.hidden_size).to(device)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, fused=True)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.critic_learning_rate, fused=True)

    # ---- stopping and resuming ----
    def current_state() -> dict:
        """Everything the loop needs to go on from the end of `iteration`, exactly."""
        return {
            "algorithm": ALGORITHM,
            "args": vars(args),
            "run_name": run_name,
            "iteration": iteration,
            "actor": actor.state_dict(),
            "critic": critic.state_dict(),
            "actor_optimizer": actor_optimizer.state_dict(),
            "critic_optimizer": critic_optimizer.state_dict(),
            "envs": env_state(envs),
            "obs": obs,
            "autoreset": autoreset,
            "recent_returns": list(recent_returns),  # the stop rule's window
            "random": (random.getstate(), np.random.get_state(), torch.get_rng_state()),
        }

    obs = torch.as_tensor(envs.reset(seed=args.seed)[0], device=device)
    autoreset = torch.zeros(args.num_envs, dtype=torch.bool, device=device)
    if checkpoint:
        actor.load_state_dict(checkpoint["actor"])
        critic.load_state_dict(checkpoint["critic"])
        actor_optimizer.load_state_dict(checkpoint["actor_optimizer"])
        critic_optimizer.load_state_dict(checkpoint["critic_optimizer"])
        if checkpoint["envs"] is not None:
            envs.close()
            envs = pickle.loads(checkpoint["envs"])
            obs, autoreset = checkpoint["obs"].to(device), checkpoint["autoreset"].to(device)
        else:
            print("notice: the checkpoint holds no environment state; the resumed run starts new episodes")
        python_state, numpy_state, torch_state = checkpoint["random"]
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        print(f"resuming {run_name} after step {(start_iteration - 1) * args.num_envs:,}")

    # Ctrl-C and SIGTERM stop the run at the end of the step under way, so that the checkpoint it
    # writes is whole; a second Ctrl-C stops at once
    stop_signals = []

    def stop_after_this_step(signum, frame):
        if stop_signals:
            raise KeyboardInterrupt
        stop_signals.append(signum)

    previous_handlers = {
        sig: signal.signal(sig, stop_after_this_step) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    # ---- the training loop ----
    start_time, start_step = time.time(), (start_iteration - 1) * args.num_envs
    recent_returns = deque(checkpoint["recent_returns"] if checkpoint else (), maxlen=10)
    # an env without a reward threshold is never solved
    reward_threshold = gym.spec(args.env_id).reward_threshold or float("inf")
    diverged = solved = False
    num_iterations = args.total_timesteps // args.num_envs
    for iteration in range(start_iteration, num_iterations + 1):
        global_step = iteration * args.num_envs
        pi = actor(obs)
        actions = pi.sample()
        next_obs, rewards, terminations, truncations, infos = envs.step(actions.cpu().numpy())
        next_obs = torch.as_tensor(next_obs, device=device)
        rewards = torch.as_tensor(rewards, dtype=torch.float32, device=device)
        dones = torch.as_tensor(terminations | truncations, device=device)
        terminations = torch.as_tensor(terminations, dtype=torch.float32, device=device)

        if "episode" in infos:
            finished = infos["_episode"]
            for episode_return, episode_length in zip(
                infos["episode"]["r"][finished], infos["episode"]["l"][finished]
            ):
                recent_returns.append(float(episode_return))
                writer.add_scalar("charts/episodic_return", episode_return, global_step)
                writer.add_scalar("charts/episodic_length", episode_length, global_step)
            solved = (
                args.stop_when_solved
                and len(recent_returns) == 10
                and np.mean(recent_returns) >= reward_threshold
            )

        # ---- learning ----
        # a step that only reset its env joins two episodes: it is no transition, so it is left out
        real = ~autoreset
        if real.any():  # when every env only reset (they all time out together), nothing to learn
            values = critic(obs)
            with torch.no_grad():
                td_target = rewards + args.gamma * (1 - terminations) * critic(next_obs)
            delta = (td_target - values)[real]
            critic_loss = (delta**2).mean()
            if not torch.isfinite(critic_loss):  # values that overflow make the loss inf or nan
                diverged = True
                break
            critic_optimizer.zero_grad()
            critic_loss.backward()
            critic_optimizer.step()

            # δ̂ = δ / std(δ), a constant for the actor; a single transition has no spread, and is
            # left as it is
            delta_hat = delta.detach()
            if len(delta_hat) > 1:
                delta_hat = delta_hat / (delta_hat.std() + 1e-8)
            entropy = pi.entropy()[real].mean()
            actor_loss = -(delta_hat * pi.log_prob(actions)[real]).mean() - args.ent_coef * entropy
            actor_optimizer.zero_grad()
            actor_loss.backward()
            actor_optimizer.step()

            if iteration % 100 == 0:
                writer.add_scalar("losses/critic_loss", critic_loss.item(), global_step)
                writer.add_scalar("losses/actor_loss", actor_loss.item(), global_step)
                writer.add_scalar("losses/entropy", entropy.item(), global_step)
        autoreset = dones
        obs = next_obs

        if iteration % 100 == 0:
            sps = int((global_step - start_step) / (time.time() - start_time))
            writer.add_scalar("charts/SPS", sps, global_step)

        # ---- report, evaluate, checkpoint ----
        if iteration % max(num_iterations // 20, 1) == 0:
            recent = f"{np.mean(recent_returns):7.1f}" if recent_returns else "      -"
            sps = int((global_step - start_step) / (time.time() - start_time))
            print(f"step {global_step:>9,}  return (last 10) {recent}  SPS {sps:,}")

        # returns that reach the threshold in training must hold in a greedy evaluation too, on
        # other episodes than the final evaluation's, which stays a fair test of the policy kept;
        # in every one of its episodes, not on average: a policy that fails one start in ten passes
        # an average and then fails the final evaluation as often as not
        if solved:
            check_returns = evaluate(actor, eval_envs, args.eval_episodes, check_seed, device)
            solved = min(check_returns) >= reward_threshold
            if not solved:
                print(
                    f"step {global_step:>9,}  solved in training, not in a greedy check (worst episode {min(check_returns):.1f})"
                )
                recent_returns.clear()  # the next check waits for 10 new episodes
        last_iteration = iteration == num_iterations or solved
        if last_iteration or (args.eval_frequency > 0 and global_step % args.eval_frequency < args.num_envs):
            eval_returns = evaluate(actor, eval_envs, args.eval_episodes, eval_seed, device)
            for episode_return in eval_returns:
                writer.add_scalar("eval/episodic_return", episode_return, global_step)
            print(
                f"step {global_step:>9,}  greedy evaluation {np.mean(eval_returns):.1f} ± {np.std(eval_returns):.1f}"
            )

        if args.checkpoint_frequency > 0 and global_step % args.checkpoint_frequency < args.num_envs:
            save_checkpoint(model_path, current_state())
        if last_iteration or stop_signals:
            break

    # ---- save and close ----
    if solved:
        print(
            f"solved: the last 10 training returns average {np.mean(recent_returns):.1f} ≥ {reward_threshold}"
        )
    if not diverged and (args.save_model or stop_signals):
        save_checkpoint(model_path, current_state())
        print(f"checkpoint saved to {model_path}")
    envs.close()
    eval_envs.close()
    writer.close()
    for sig, handler in previous_handlers.items():
        signal.signal(sig, handler)
    if diverged:
        kept = (
            f"the last good checkpoint is {model_path}"
            if os.path.exists(model_path)
            else "no checkpoint was saved"
        )
        print(
            f"{ALGORITHM}.py: error: the critic's loss is {critic_loss.item()} at step {global_step:,}: training diverged "
            f"(a smaller --learning-rate or --critic-learning-rate may help); {kept}",
            file=sys.stderr,
        )
        raise SystemExit(1)
    if stop_signals:
        print(
            f"stopped by {signal.Signals(stop_signals[0]).name} after step {global_step:,}; continue with --resume {model_path}"
        )
        raise SystemExit(128 + stop_signals[0])
    return {
        "eval_returns": eval_returns,
        "run_dir": f"runs/{run_name}",
        "model_path": model_path if args.save_model else None,
    }


if __name__ == "__main__":
    train(tyro.cli(Args))
