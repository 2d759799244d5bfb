"""What a run leaves behind, and that the same seed gives the same run."""

import glob
import importlib.util
import os

import gymnasium as gym
import pytest
import torch
from conftest import (
    ACTING_NETWORK,
    ASYNCHRONOUS,
    CONTINUOUS,
    DETERMINISTIC,
    PIXELS,
    REPLAY_FILES,
    SHORT_RUNS,
    load_algorithm,
)
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TAGS = {
    "charts/episodic_return",
    "charts/episodic_length",
    "charts/SPS",
    "eval/episodic_return",
}
DQN_TAGS = {
    "charts/epsilon",
    "losses/td_loss",
    "losses/q_values",
    "eval/predicted_value",
    "eval/discounted_return",
}
DDPG_TAGS = {
    "losses/actor_loss",
    "losses/critic_loss",
    "losses/q_values",
    "eval/predicted_value",
    "eval/discounted_return",
}
ALGORITHM_TAGS = {
    "dqn": DQN_TAGS,
    "double_dqn": DQN_TAGS,
    "dueling_dqn": DQN_TAGS,
    "per_dqn": DQN_TAGS | {"charts/beta"},
    # one mean |σ| per noisy layer, named by its place in QNetwork.network
    "noisy_dqn": DQN_TAGS - {"charts/epsilon"} | {"charts/noise_sigma/2", "charts/noise_sigma/4"},
    "rainbow": DQN_TAGS - {"losses/td_loss"}
    | {"losses/loss", "charts/beta"}
    | {f"charts/noise_sigma/{stream}.{layer}" for stream in ("advantage", "value") for layer in (0, 2)},
    "c51": DQN_TAGS - {"losses/td_loss"} | {"losses/loss"},
    "reinforce": {"losses/policy_loss", "losses/value_loss"},
    "actor_critic": {"losses/actor_loss", "losses/critic_loss", "losses/entropy"},
    "a2c": {"losses/policy_loss", "losses/value_loss", "losses/entropy"},
    "ppo": {
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "losses/clipfrac",
    },
    "a3c": {"losses/policy_loss", "losses/value_loss", "losses/entropy"},
    "pqn": DQN_TAGS,
    "dqn_atari": DQN_TAGS,
    "pqn_atari": DQN_TAGS,
    "ppo_atari": {
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "losses/clipfrac",
    },
    "ddpg": DDPG_TAGS,
    "td3": DDPG_TAGS,
    "sac": DDPG_TAGS | {"charts/alpha", "losses/entropy"},
}


def scalars(run_dir: str) -> EventAccumulator:
    events = EventAccumulator(run_dir, size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return events


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_smoke_run_writes_logs_checkpoint_and_videos(name):
    algorithm = load_algorithm(name)
    args = algorithm.Args(seed=1, capture_video=True, save_model=True, **SHORT_RUNS[name])
    summary = algorithm.train(args)
    run_name = os.path.basename(summary["run_dir"])

    events = scalars(summary["run_dir"])
    assert TAGS | ALGORITHM_TAGS[name] <= set(events.Tags()["scalars"])
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]
    # one point per evaluation episode: the periodic evaluation and the final one
    assert len(events.Scalars("eval/episodic_return")) == 2 * args.eval_episodes

    assert summary["model_path"] == f"runs/{run_name}/{args.exp_name}.pt"
    checkpoint = torch.load(summary["model_path"], weights_only=True)
    assert checkpoint["args"] == vars(args)

    assert glob.glob(f"videos/{run_name}/*.mp4"), "no training video"
    assert glob.glob(f"videos/{run_name}-eval/*.mp4"), "no evaluation video"


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_checkpoint_reloads_into_evaluate(name):
    algorithm = load_algorithm(name)
    args = algorithm.Args(seed=3, save_model=True, **SHORT_RUNS[name])
    summary = algorithm.train(args)

    key, network_class, sizes = ACTING_NETWORK[name]
    checkpoint = torch.load(summary["model_path"], weights_only=True)
    widths = {"hidden_size": args.hidden_size} if hasattr(args, "hidden_size") else {}  # pixels: the papers'
    network = getattr(algorithm, network_class)(**sizes, **widths)
    network.load_state_dict(checkpoint[key])
    envs = algorithm.make_env(args.env_id, 1, args.seed, capture_video=False, video_folder="")
    evaluation = (envs, args.eval_episodes, args.seed + 100_000, torch.device("cpu"))
    # the value-based files also report predicted and obtained values; DDPG's critic (TD3's, SAC's) predicts them
    if key == "q_network":
        returns, _, _ = algorithm.evaluate(network, *evaluation, args.gamma)
    elif name in CONTINUOUS:
        critic = algorithm.Critic(obs_dim=3, action_dim=1, hidden_size=args.hidden_size)
        critic.load_state_dict(checkpoint["critic"])
        returns, _, _ = algorithm.evaluate(network, critic, *evaluation, args.gamma)
    else:
        returns = algorithm.evaluate(network, *evaluation)
    assert returns == summary["eval_returns"]

    # and as the README says, with --evaluate: everything but how to evaluate is the checkpoint's
    if name not in ASYNCHRONOUS:  # a3c's workers may move θ between its final evaluation and its checkpoint
        evaluated = algorithm.train(
            algorithm.Args(evaluate=summary["model_path"], eval_episodes=args.eval_episodes)
        )
        assert evaluated["eval_returns"] == summary["eval_returns"]


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_same_seed_same_run(name):
    algorithm = load_algorithm(name)

    def run(seed, exp_name):  # a run directory of its own, even when two runs start in the same second
        events = scalars(
            algorithm.train(algorithm.Args(exp_name=exp_name, seed=seed, **SHORT_RUNS[name]))["run_dir"]
        )
        return {
            tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]
            if tag != "charts/SPS"  # wall-clock
        }

    first, second, other_seed = run(1, "first"), run(1, "second"), run(2, "other")
    assert first == second
    assert first["charts/episodic_return"] != other_seed["charts/episodic_return"]


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_a_single_environment_runs_through_episode_ends(name):
    # with one env, the step after each episode's end only resets: a step with no transition
    algorithm = load_algorithm(name)
    args = algorithm.Args(seed=1, **(SHORT_RUNS[name] | dict(num_envs=1, total_timesteps=600)))
    summary = algorithm.train(args)
    assert len(scalars(summary["run_dir"]).Scalars("charts/episodic_return")) > 1


class FailsTheFirstCheck:
    """The env, but reset with the stop rule's first check seed it plays every episode of that check
    at `penalty` a step, below any threshold; its later checks, and every other episode, as they are.
    (Classes at module level: a3c's workers, spawned, unpickle their env's class by name.)"""

    penalty, checks, failing = 0.0, 0, False

    def reset(self, *, seed=None, options=None):
        if seed is not None:  # the first episode of an evaluation, or a training env's first
            self.checks += seed == 1 + 200_000
            self.failing = seed == 1 + 200_000 and self.checks == 1
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, self.penalty if self.failing else reward, terminated, truncated, info


class CartPoleFailsTheFirstCheck(FailsTheFirstCheck, CartPoleEnv):
    penalty = -1.0


class PendulumFailsTheFirstCheck(FailsTheFirstCheck, PendulumEnv):
    penalty = -100.0


FAILS_THE_FIRST_CHECK = dict.fromkeys(CONTINUOUS, "PendulumFailsTheFirstCheck-v0")
if importlib.util.find_spec("minatar"):
    from minatar.gym import BaseEnv as MinAtarEnv

    class BreakoutFailsTheFirstCheck(FailsTheFirstCheck, MinAtarEnv):
        penalty = -1.0

    gym.register(
        "MinAtar/BreakoutFailsTheFirstCheck-v0",
        entry_point=BreakoutFailsTheFirstCheck,
        kwargs=dict(game="breakout", use_minimal_action_set=True),
        reward_threshold=0,
    )
    FAILS_THE_FIRST_CHECK |= dict.fromkeys(PIXELS, "MinAtar/BreakoutFailsTheFirstCheck-v0")


# thresholds that every episode reaches but those of the first check: a run is solved in training once
# its first 10 episodes end (0, falsy, is a threshold all the same; only None means an env without one)
gym.register(
    "CartPoleFailsTheFirstCheck-v0",
    entry_point=CartPoleFailsTheFirstCheck,
    max_episode_steps=500,
    reward_threshold=0,
)
gym.register(
    "PendulumFailsTheFirstCheck-v0",
    entry_point=PendulumFailsTheFirstCheck,
    max_episode_steps=200,
    reward_threshold=-5000,
)


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_the_stop_rule_checks_check_episodes_greedy_episodes_then_evaluates_eval_episodes(name, monkeypatch):
    algorithm = load_algorithm(name)
    played = []  # (episodes, seed) of each greedy evaluation, in its order
    real_evaluate = algorithm.evaluate

    def evaluate(*arguments):
        result = real_evaluate(*arguments)
        returns = result[0] if isinstance(result, tuple) else result
        episodes, seed = [a for a in arguments if type(a) is int][:2]  # (then a check's threshold)
        played.append((episodes, seed, len(returns)))
        return result

    monkeypatch.setattr(algorithm, "evaluate", evaluate)
    env_id = FAILS_THE_FIRST_CHECK.get(name, "CartPoleFailsTheFirstCheck-v0")
    settings = SHORT_RUNS[name] | dict(
        env_id=env_id, total_timesteps=10_000, eval_frequency=0, check_episodes=3
    )
    if name in REPLAY_FILES:
        settings["learning_starts"] = 9_999  # what is played matters here, not what is learnt
        if "buffer_size" in settings:
            settings["buffer_size"] = 10_000
    algorithm.train(algorithm.Args(seed=1, **settings))
    # the first check stops at its first episode, below the threshold; ten training episodes later a
    # second check plays all three; then the final evaluation, from other starts
    assert played == [(3, 1 + 200_000, 1), (3, 1 + 200_000, 3), (2, 1 + 100_000, 2)]
