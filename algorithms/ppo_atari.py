"""Proximal Policy Optimization (PPO) on pixels: the Atari games, and MinAtar.

Schulman, Wolski, Dhariwal, Radford & Klimov, "Proximal Policy Optimization Algorithms", 2017, with
the details of its Atari runs as listed by Huang, Dossa, Raffin, Kanervisto & Wang, "The 37
Implementation Details of Proximal Policy Optimization", ICLR blog track 2022; MinAtar is Young &
Tian's, 2019.

This is ppo.py, whose update it keeps (read it first):

    ρ_t(θ)   = π_θ(a_t|s_t) / π_old(a_t|s_t)
    L^CLIP   = − mean [ min( ρ_t Â_t, clip(ρ_t, 1 − ε, 1 + ε) Â_t ) ]
    L^V      = ½ mean [ max( (V_θ(s_t) − R_t)², (V_old(s_t) + clip(V_θ(s_t) − V_old(s_t), −ε, ε) − R_t)² ) ]
    L(θ)     = L^CLIP + c_v L^V − β mean [ H(π_θ(·|s_t)) ]

    δ_t = clip(r_t) + γ (1 − d_t) V_old(s_{t+1}) − V_old(s_t)           clip(r) = sign(r)
    Â_t = δ_t + γλ (1 − ended_t) Â_{t+1}

with what learning from the screen adds, dqn_atari.py's (its docstring says why):

- s is the screen as dqn_atari.py preprocesses it: on the Atari games the last 4 frames, each the
  max of two emulator frames, grey, 84×84, the action repeated for 4 frames, up to 30 frames of
  no-op at the start (`AtariPreprocessing`, `FrameStackObservation`); on MinAtar one 10×10 screen, its
  channels first. Pixels are divided by their largest value.
- One torso, the Nature network (or the MinAtar paper's on MinAtar), is shared by the policy's
  head and the value's, so c_v weighs the value's gradient against the policy's in the torso's
  weights; orthogonal initialisation with gains √2 in the torso, 0.01 in the policy's head and 1
  in the value's, as in ppo.py.
- Rewards are clipped to their sign for learning; the logged return is the game's score.
- d_t is 1 where the game ended or, with `life_loss_ends_bootstrap`, a life was lost: the
  advantage's sum stops there too, and the game goes on.
- The Atari settings of the reference implementation: 8 envs × 128 steps, 4 epochs of 4
  minibatches, ε = 0.1 (not 0.2), a learning rate of 2.5e-4 falling linearly to 0, β = 0.01.

Evaluations play the most probable action, but a random one with probability `eval_epsilon`: a policy
that never presses FIRE could otherwise wait for the rest of a game.

What differs from `ppo.py`: this docstring; the games' registration, `MinAtarScreen` and `make_game`
(dqn_atari.py's); the `Args` (discrete actions only, no normalisation, the Atari defaults, the life
loss and the evaluation's ε); `ActorCritic`'s shared convolutional torso; the rollout's observations
kept as the screen's bytes; `evaluate`'s ε; and in `train`, the rollout's steps × envs flattened for
the network (which takes one batch of screens) and put back, the clipped rewards and the lost lives.

Run:
    python algorithms/ppo_atari.py --env-id ALE/Breakout-v5           # the reference settings: 10M steps
    python algorithms/ppo_atari.py --env-id MinAtar/Breakout-v1 ...   # its settings: docs/algorithms/ppo_atari.md
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

# The games are registered by their own packages, the `atari` extra (pip install -e ".[atari]"):
# ale-py's ALE/<Game>-v5 ids on import, MinAtar's MinAtar/<Game>-v1 (its minimal action sets) on request.
GAMES_MISSING = []
try:
    import ale_py

    gym.register_envs(ale_py)
except ImportError:
    GAMES_MISSING.append(("ALE/", "ale-py"))
try:
    import minatar.gym

    if "MinAtar/Breakout-v1" not in gym.registry:
        minatar.gym.register_envs()
except ImportError:
    GAMES_MISSING.append(("MinAtar/", "minatar"))


def refuse_without_the_games(env_id: str):
    """An id of games whose package is not installed gets one line that says how to install it."""
    for prefix, package in GAMES_MISSING:
        if env_id.startswith(prefix):
            fail(f"--env-id {env_id} needs {package}, which is not installed: pip install -e '.[atari]'")


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
    env_id: str = "ALE/Breakout-v5"
    """the id of the environment: an Atari game (ALE/<Game>-v5) or a MinAtar one (MinAtar/<Game>-v1)"""
    total_timesteps: int = 10_000_000
    """total environment steps of the experiment, all environments counted (4 frames each on Atari)"""
    num_envs: int = 8
    """the number of parallel game environments"""
    eval_episodes: int = 10
    """the number of episodes of each evaluation (the most probable action, or at random with --eval-epsilon)"""
    eval_frequency: int = 0
    """evaluate every this many environment steps as well as at the end (0: only at the end)"""
    stop_when_solved: bool = True
    """stop once the last 10 training returns, then an evaluation, reach the env's reward threshold"""
    check_episodes: int = 10
    """the number of episodes of the stop rule's check; every one must reach the reward threshold"""
    checkpoint_frequency: int = 0
    """also save a checkpoint every this many environment steps (0: only when the run ends or stops)"""
    resume: str | None = None
    """continue the run saved in this checkpoint, with the same arguments"""
    evaluate: str | None = None
    """play --eval-episodes episodes with the policy saved in this checkpoint, and train nothing"""

    # Algorithm specific arguments
    num_steps: int = 128
    """the steps of each environment in a rollout: num_envs × num_steps transitions per rollout"""
    learning_rate: float = 2.5e-4
    """the learning rate of the optimizer"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """λ of GAE(λ): 1 gives the n-step return, 0 the one-step TD error"""
    update_epochs: int = 4
    """the passes over each rollout"""
    num_minibatches: int = 4
    """the minibatches each pass over a rollout is split into"""
    clip_coef: float = 0.1
    """ε, how far the probability ratio may move from 1 before its objective is clipped"""
    clip_vloss: bool = True
    """if toggled, the value loss is clipped around the rollout's values as the ratio is around 1"""
    ent_coef: float = 0.01
    """β, the weight of the entropy bonus"""
    vf_coef: float = 0.5
    """c_v, the weight of the value loss"""
    max_grad_norm: float = 0.5
    """the largest norm the gradient is clipped to"""
    target_kl: float = 0.0
    """stop a rollout's passes once the approximate KL from π_old passes this (0: never)"""
    anneal_lr: bool = True
    """if toggled, the learning rate falls linearly to 0 over the budget the run was started with"""
    life_loss_ends_bootstrap: bool = True
    """if toggled, a lost life is a terminal state for learning (the game goes on); no effect on MinAtar"""
    eval_epsilon: float = 0.05
    """the probability of a random action in the evaluations' and the stop check's episodes"""


# The values each argument may take, as intervals; anything else is refused before the run starts.
BOUNDS = {
    "seed": "[0, inf)", "total_timesteps": "(0, inf)", "num_envs": "(0, inf)", "eval_episodes": "(0, inf)",
    "eval_frequency": "[0, inf)", "checkpoint_frequency": "[0, inf)", "check_episodes": "(0, inf)",
    "num_steps": "(0, inf)", "learning_rate": "(0, inf)", "gamma": "[0, 1]", "gae_lambda": "[0, 1]",
    "update_epochs": "(0, inf)", "num_minibatches": "(0, inf)", "clip_coef": "(0, inf)",
    "ent_coef": "[0, inf)", "vf_coef": "[0, inf)", "max_grad_norm": "(0, inf)", "target_kl": "[0, inf)",
    "eval_epsilon": "[0, 1]",
}  # fmt: skip


def unmet_requirement(args: Args, env: gym.Env) -> str | None:
    """What this file cannot run besides BOUNDS, as the line that says why; None when it can."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        return f"--env-id {args.env_id} has actions {env.action_space}, not a discrete action space"
    if len(env.observation_space.shape or ()) != 3 or not args.env_id.startswith(("ALE/", "MinAtar/")):
        return (
            f"--env-id {args.env_id} has observations {env.observation_space}, not an Atari or MinAtar screen"
        )
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


def frame_stack(env_id: str) -> int:
    """How many frames one observation holds: 4 on the Atari games, 1 on MinAtar (its screens show motion)."""
    return 4 if env_id.startswith("ALE/") else 1


class MinAtarScreen(gym.ObservationWrapper):
    """MinAtar's observation, (10, 10, channels) booleans, with its channels first as torch's convolutions
    take them; its rendered frames, 10×10 RGB floats, as 160×160 RGB bytes that a video can show."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(0, 1, space.shape[-1:] + space.shape[:-1], bool)

    def reset(self, **kwargs):
        # a sticky action repeats the last one, which the game keeps across episodes: none at a new one's start,
        # so that an episode begun from a seed is the same whatever was played before it
        self.unwrapped.game.last_action = 0
        return super().reset(**kwargs)

    def observation(self, observation):
        return np.moveaxis(observation, -1, 0)

    def render(self):
        frame = self.env.render()
        return None if frame is None else (255 * frame).astype(np.uint8).repeat(16, 0).repeat(16, 1)


def make_game(env_id: str, render_mode: str | None = None) -> gym.Env:
    """One game, its screens preprocessed as the papers did (dqn_atari.py's docstring)."""
    if env_id.startswith("MinAtar/"):
        return MinAtarScreen(gym.make(env_id, render_mode=render_mode))
    env = gym.make(env_id, frameskip=1, render_mode=render_mode)  # AtariPreprocessing skips the frames
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)
    return gym.wrappers.FrameStackObservation(env, frame_stack(env_id))


def make_env(env_id: str, num_envs: int, seed: int, capture_video: bool, video_folder: str):
    """`num_envs` copies of `env_id` in one vector env, in gymnasium's next-step autoreset mode.

    Next-step autoreset: the step on which an episode ends returns its true last observation,
    and the *following* call to `step` ignores the action and returns the first observation of a
    new episode (reward 0, not done). With `capture_video`, the first copy records some of its
    episodes (the 1st, 2nd, 9th, 28th…, gymnasium's default), and only those are rendered.
    """
    make_one = functools.partial(make_game, env_id)

    def make_recorded():
        return gym.wrappers.RecordVideo(make_game(env_id, render_mode="rgb_array"), video_folder)

    first = make_recorded if capture_video else make_one
    envs = gym.vector.SyncVectorEnv([first] + [make_one] * (num_envs - 1))
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    envs.action_space.seed(seed)
    return envs


def layer_init(layer: nn.Module, gain: float = 2**0.5) -> nn.Module:
    """Orthogonal weights of this gain, biases 0."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class ActorCritic(nn.Module):
    """One convolutional torso, then two heads: the policy π_θ(·|s), a distribution over the actions, and
    the value V_θ(s). The Nature network on 84×84 frames, the MinAtar paper's on its 10×10 screens."""

    def __init__(self, obs_shape: tuple, n_actions: int, pixel_max: float):
        super().__init__()
        channels, height, width = obs_shape
        if (height, width) == (10, 10):  # MinAtar
            torso = [layer_init(nn.Conv2d(channels, 16, 3)), nn.ReLU(), nn.Flatten()]
            features, hidden = 16 * 8 * 8, 128
        else:
            torso = [
                layer_init(nn.Conv2d(channels, 32, 8, stride=4)), nn.ReLU(),
                layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
                layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
                nn.Flatten(),
            ]  # fmt: skip
            features, hidden = 64 * 7 * 7, 512
        self.torso = nn.Sequential(*torso, layer_init(nn.Linear(features, hidden)), nn.ReLU())
        self.actor = layer_init(nn.Linear(hidden, n_actions), 0.01)  # the logits: near uniform at first
        self.critic = layer_init(nn.Linear(hidden, 1), 1.0)
        self.pixel_max = pixel_max

    def forward(self, x: torch.Tensor):
        """π_θ(·|s) and V_θ(s)."""
        hidden = self.torso(x.float() / self.pixel_max)
        return Categorical(logits=self.actor(hidden)), self.critic(hidden).squeeze(-1)

    def greedy(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable action."""
        return self.actor(self.torso(x.float() / self.pixel_max)).argmax(dim=1)


class Rollout:
    """The last `num_steps` steps of `num_envs` environments, row t holding step t of every env.

    `obs` has one row more: the observations the last step led to, from which the last
    transitions bootstrap. `real[t, i]` is False where env i only reset at step t (the step after
    an episode's end), a step that is no transition. Preallocated once, overwritten every rollout;
    the screens kept as the env gives them (bytes), a quarter of their size as floats.
    """

    def __init__(self, num_steps: int, num_envs: int, obs_shape: tuple, obs_dtype):
        self.obs = np.zeros((num_steps + 1, num_envs, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((num_steps, num_envs), dtype=np.int64)
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
    epsilon: float = 0.05,
):
    """Play `eval_episodes` episodes in `envs`, one env made by `make_env`, taking the most
    probable action but for a random one with probability `epsilon`, and return their undiscounted
    returns. The first reset is seeded, so that every evaluation of a run starts from the same
    states and evaluations compare policies alone. Given `stop_below` (the stop rule's check gives
    it the threshold), it stops after the first episode below it: the check asks every episode to
    reach the threshold, so the rest could not change its answer.
    """
    returns = []
    rng = np.random.default_rng(seed)  # ε's draws, the same in every evaluation of a run
    for episode in range(eval_episodes):
        obs, _ = envs.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            if rng.random() < epsilon:
                actions = rng.integers(0, envs.single_action_space.n, 1)
            else:
                with torch.no_grad():
                    actions = agent.greedy(torch.as_tensor(obs, device=device)).cpu().numpy()
            obs, _, terminations, truncations, infos = envs.step(actions)
            done = terminations[0] or truncations[0]
        returns.append(float(infos["episode"]["r"][0]))
        if stop_below is not None and returns[-1] < stop_below:
            break
    return returns


def train(args: Args) -> dict:
    refuse_without_the_games(args.env_id)
    run = Run(args)  # refuses bad input, seeds, opens the run directory; reads the checkpoint of --resume
    device = run.device
    torch.set_flush_denormal(True)  # Adam's tiny second moments as 0: a CPU is slow on denormal numbers
    envs = make_env(args.env_id, args.num_envs, args.seed, args.capture_video, f"videos/{run.name}")
    eval_envs = make_env(args.env_id, 1, args.seed, args.capture_video, f"videos/{run.name}-eval")

    # ---- network, optimizer, rollout storage ----
    space = envs.single_observation_space
    agent = ActorCritic(space.shape, int(envs.single_action_space.n), float(space.high.max())).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5, fused=True)
    rollout = Rollout(args.num_steps, args.num_envs, space.shape, space.dtype)
    # what a checkpoint holds, and a resumed run takes back
    learner = {"agent": agent, "optimizer": optimizer}

    # ---- the training loop ----
    obs, infos = envs.reset(seed=args.seed)
    autoreset = np.zeros(args.num_envs, dtype=bool)  # the envs whose next step only starts a new episode
    lives = infos.get("lives", np.zeros(args.num_envs))  # the lives left in each game (MinAtar has none)
    # as the checkpoint left them
    envs, obs, autoreset, lives = run.resume(learner, (envs, obs, autoreset, lives))
    if args.evaluate:  # the checkpoint's policy, played with --eval-epsilon; nothing is trained
        eval_returns = evaluate(
            agent, eval_envs, args.eval_episodes, run.eval_seed, device, None, args.eval_epsilon
        )
        return run.evaluated(eval_returns, envs, eval_envs)
    batch_size = args.num_envs * args.num_steps
    num_iterations = args.total_timesteps // batch_size
    for iteration in range(run.step // batch_size + 1, num_iterations + 1):
        if args.anneal_lr:  # over the budget the run began with, as every schedule: 0 past it
            done = (iteration - 1) * batch_size / run.planned_steps
            optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)
        for t in range(args.num_steps):
            global_step = (iteration - 1) * batch_size + (t + 1) * args.num_envs
            with torch.no_grad():
                pi, _ = agent(torch.as_tensor(obs, device=device))
                actions = pi.sample().cpu().numpy()
            next_obs, rewards, terminations, truncations, infos = envs.step(actions)
            # rewards clipped to their sign; a lost life ends the bootstrap and the advantage's sum, not the game
            life_lost = infos.get("lives", lives) < lives
            ends = terminations | (life_lost & args.life_loss_ends_bootstrap)
            rollout.add(t, obs, actions, np.sign(rewards), ends, truncations, autoreset)
            run.log_episodes(global_step, infos)
            autoreset = terminations | truncations
            obs, lives = next_obs, infos.get("lives", lives)
        rollout.obs[args.num_steps] = obs

        # ---- learning ----
        real = np.flatnonzero(rollout.real)  # the transitions, by index in the rollout's steps × envs
        if len(real) > 0:  # a rollout of one step in which every env only reset has nothing to learn from
            b_obs = torch.as_tensor(rollout.obs, device=device)
            b_actions = torch.as_tensor(rollout.actions, device=device)
            with torch.no_grad():  # π_old and V_old: the policy and values that collected the rollout
                pi_old, values_old = agent(b_obs[:-1].flatten(0, 1))
                log_probs_old = pi_old.log_prob(b_actions.flatten()).view_as(b_actions)
                values_old = values_old.view_as(b_actions)
                all_values = torch.cat([values_old, agent(b_obs[-1])[1][None]]).cpu().numpy()
            advantages = torch.as_tensor(
                rollout.advantages(all_values, args.gamma, args.gae_lambda), device=device
            )
            returns = advantages + values_old  # R_t, the critic's target
            # the real transitions, in one flat batch
            b_obs, b_actions = b_obs[:-1].flatten(0, 1)[real], b_actions.flatten(0, 1)[real]
            b_log_probs_old, b_values_old = log_probs_old.flatten()[real], values_old.flatten()[real]
            b_advantages, b_returns = advantages.flatten()[real], returns.flatten()[real]
            clipfracs = []
            # fewer minibatches when the steps that only reset an env leave fewer transitions than that
            num_minibatches = min(args.num_minibatches, len(real))
            for _ in range(args.update_epochs):
                for mb in np.array_split(np.random.permutation(len(real)), num_minibatches):
                    pi, values = agent(b_obs[mb])
                    log_ratio = pi.log_prob(b_actions[mb]) - b_log_probs_old[mb]
                    ratio = log_ratio.exp()
                    with torch.no_grad():
                        approx_kl = ((ratio - 1) - log_ratio).mean()  # of π_θ from π_old
                        clipfracs.append(((ratio - 1).abs() > args.clip_coef).float().mean())
                    # Â normalised within the minibatch (a single transition has no spread, and is left as it is)
                    mb_advantages = b_advantages[mb]
                    if len(mb) > 1:
                        mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                    clipped_ratio = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
                    policy_loss = -torch.min(ratio * mb_advantages, clipped_ratio * mb_advantages).mean()
                    value_loss = (values - b_returns[mb]) ** 2
                    if args.clip_vloss:
                        moved = (values - b_values_old[mb]).clamp(-args.clip_coef, args.clip_coef)
                        value_loss = torch.max(value_loss, (b_values_old[mb] + moved - b_returns[mb]) ** 2)
                    value_loss = 0.5 * value_loss.mean()
                    entropy = pi.entropy().mean()
                    loss = policy_loss + args.vf_coef * value_loss - args.ent_coef * entropy
                    if not torch.isfinite(loss):  # values that overflow make the loss inf or nan
                        run.diverged = f"the loss is {loss.item()} at step {global_step:,}"
                        break
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                    optimizer.step()
                # a diverged loss, or a policy already as far from π_old as allowed: no more passes
                if run.diverged or 0 < args.target_kl < approx_kl:
                    break
            if run.diverged:
                break

            if iteration % 10 == 0:
                losses = {
                    "losses/policy_loss": policy_loss,
                    "losses/value_loss": value_loss,
                    "losses/entropy": entropy,
                    "losses/approx_kl": approx_kl,
                    "losses/clipfrac": torch.stack(clipfracs).mean(),
                }
                run.log(global_step, {tag: loss.item() for tag, loss in losses.items()})

        # ---- report, evaluate, checkpoint ----
        run.progress(global_step)
        if run.solved_in_training:  # then solved if every episode of a greedy check is too
            run.check(
                evaluate(
                    agent,
                    eval_envs,
                    args.check_episodes,
                    run.check_seed,
                    device,
                    run.threshold,
                    args.eval_epsilon,
                ),
                global_step,
            )
        last_iteration = iteration == num_iterations or run.solved
        if last_iteration or run.due(args.eval_frequency, global_step):
            eval_returns = evaluate(
                agent, eval_envs, args.eval_episodes, run.eval_seed, device, None, args.eval_epsilon
            )
            run.log_evaluation(global_step, eval_returns)
        if run.end_step(global_step, last_iteration, learner, (envs, obs, autoreset, lives)):
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
