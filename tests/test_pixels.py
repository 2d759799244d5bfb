"""dqn_atari.py, ppo_atari.py and pqn_atari.py: the screens as the papers preprocess them, the papers' networks, a short
run of each file on each Atari game, and a game whose package is missing. Their smoke, determinism, resume
and bad-input tests are every file's (test_runs.py, test_reliability.py, test_bad_input.py), on MinAtar's
Breakout; their learning steps are in test_dqn_atari.py, test_ppo_atari.py and test_pqn.py (pqn_atari's
screens and lost lives in test_pqn_atari.py)."""

import importlib
import inspect
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import ATARI_EXTRA, PIXELS, SHORT_RUNS, load_algorithm

pytestmark = pytest.mark.skipif(not ATARI_EXTRA, reason="the atari extra: pip install -e '.[atari]'")


@pytest.mark.parametrize("name", PIXELS)
def test_the_atari_screens_are_the_nature_paper_s(name):
    env = load_algorithm(name).make_game("ALE/Breakout-v5")
    assert env.observation_space.shape == (4, 84, 84) and env.observation_space.dtype == np.uint8
    preprocessing = env.env
    assert isinstance(preprocessing, gym.wrappers.AtariPreprocessing)
    assert (preprocessing.noop_max, preprocessing.frame_skip, preprocessing.screen_size) == (30, 4, (84, 84))
    assert preprocessing.grayscale_obs and not preprocessing.scale_obs
    assert not preprocessing.terminal_on_life_loss  # a life lost ends the bootstrap in train(), not the game
    assert (
        env.unwrapped._frameskip == 1
    )  # the emulator steps one frame at a time: the wrapper skips and pools
    obs, info = env.reset(seed=0)
    # a new episode: its first frame repeated; up to 30 no-op frames, a different number for different seeds
    assert all(np.array_equal(frame, obs[0]) for frame in obs)
    starts = {env.reset(seed=seed)[1]["episode_frame_number"] for seed in range(12)}
    assert len(starts) > 3 and max(starts) <= 30
    # each step 4 emulator frames, its screen the max of the last two, grey, shrunk to 84×84 (INTER_AREA)
    import cv2

    obs, info = env.reset(seed=0)
    before = info["frame_number"]
    obs, _, _, _, info = env.step(1)
    assert info["frame_number"] == before + 4
    last_two = np.maximum(preprocessing.obs_buffer[0], preprocessing.obs_buffer[1])
    np.testing.assert_array_equal(obs[-1], cv2.resize(last_two, (84, 84), interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("name", PIXELS)
def test_minatar_screens_reach_the_network_channels_first_as_booleans(name):
    env = load_algorithm(name).make_game("MinAtar/SpaceInvaders-v1")
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped.game.state()
    assert obs.shape == (6, 10, 10) and obs.dtype == bool and env.observation_space.shape == (6, 10, 10)
    np.testing.assert_array_equal(obs, np.moveaxis(raw, -1, 0))
    assert env.action_space.n == 4  # -v1: the game's minimal action set


@pytest.mark.parametrize("name", PIXELS)
def test_a_minatar_episode_begun_from_a_seed_is_the_same_whatever_was_played_before(name):
    # MinAtar repeats the last action with probability 0.1 (sticky actions), and keeps that action across
    # episodes: an evaluation begun from its seed would then depend on the game played before it
    algorithm = load_algorithm(name)

    def episode(env, seed):  # its screens, ending on action 1 where it began with 0
        env.reset(seed=seed)
        return [env.step(step % 3)[0].tobytes() for step in range(11)]

    played_before = algorithm.make_game("MinAtar/Breakout-v1")
    after_others = [episode(played_before, seed) for seed in range(40)]
    assert after_others == [episode(algorithm.make_game("MinAtar/Breakout-v1"), seed) for seed in range(40)]


class LivesChain(gym.Env):
    """A MinAtar-sized screen (10×10, 5 channels, the state's channel lit) on a chain 0 → 1 → 2 → 3 → 4 that
    terminates in state 4, a game of 3 lives that loses one leaving state 0 and one leaving state 2: lives
    lost twice in one game, with a step between that loses none."""

    observation_space = gym.spaces.Box(0, 1, (10, 10, 5), bool)
    action_space = gym.spaces.Discrete(2)
    LIVES = [3, 2, 2, 1, 1]  # in each state

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.game = type(
            "Game", (), {"last_action": 0}
        )()  # MinAtar's game, whose sticky action the files reset

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = 0
        return self.observe(), {"lives": self.LIVES[0]}

    def step(self, action):
        self.state += 1
        return self.observe(), 1.0, self.state == 4, False, {"lives": self.LIVES[self.state]}

    def observe(self):
        screen = np.zeros((10, 10, 5), dtype=bool)
        screen[:, :, self.state] = True
        return screen


gym.register("MinAtar/LivesChain-v0", entry_point=LivesChain)
STORAGE = {"dqn_atari": "ReplayBuffer", "ppo_atari": "Rollout", "pqn_atari": "Rollout"}
SHORT = {
    "dqn_atari": dict(buffer_size=1_000, learning_starts=15, batch_size=4),
    "ppo_atari": dict(num_envs=1, num_steps=10),
    "pqn_atari": dict(num_envs=1, num_steps=10, num_minibatches=1),
}


@pytest.mark.parametrize("life_loss", [True, False])
@pytest.mark.parametrize("name", PIXELS)
def test_each_lost_life_ends_the_bootstrap_once(name, life_loss, monkeypatch):
    # every step's `terminations` as the file stores it: a game of 4 steps and the step that resets it, lives
    # lost at its 1st and 3rd steps; each a terminal state for learning (with the flag), the 2nd step not
    algorithm = load_algorithm(name)
    storage = getattr(algorithm, STORAGE[name])
    stored, real_add = [], storage.add

    def add(self, *args, **kwargs):
        arguments = inspect.signature(real_add).bind(self, *args, **kwargs).arguments
        if arguments["terminations"] is not None:  # dqn_atari's buffer begins with the first screens alone
            stored.append(bool(arguments["terminations"][0]))
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(storage, "add", add)
    settings = SHORT[name] | dict(total_timesteps=20, eval_episodes=1, life_loss_ends_bootstrap=life_loss)
    algorithm.train(algorithm.Args(env_id="MinAtar/LivesChain-v0", **settings))
    game = [life_loss, False, life_loss, True, False]
    assert stored == game * 4


class Prefers0(nn.Module):
    """A network whose greedy action is always 0: Q(s, ·) = (1, 0, 0), or a policy's most probable action."""

    def forward(self, x):
        return torch.tensor([[1.0, 0.0, 0.0]]).repeat(len(x), 1)

    def greedy(self, x):
        return torch.zeros(len(x), dtype=torch.long)


@pytest.mark.parametrize("name", PIXELS)
def test_evaluations_play_at_random_with_probability_eval_epsilon(name, monkeypatch):
    algorithm = load_algorithm(name)
    envs = algorithm.make_env("MinAtar/Breakout-v1", 1, 0, capture_video=False, video_folder="")
    played, real_step = [], envs.step
    monkeypatch.setattr(envs, "step", lambda actions: played.append(int(actions[0])) or real_step(actions))
    values = {} if name == "ppo_atari" else dict(gamma=0.99)
    for epsilon in (0.0, 1.0):
        played.clear()
        algorithm.evaluate(Prefers0(), envs, 1, 0, torch.device("cpu"), epsilon=epsilon, **values)
        assert set(played) == ({0} if epsilon == 0.0 else {0, 1, 2}), epsilon
    # and train() evaluates (and checks) with --eval-epsilon
    asked, real_evaluate = [], algorithm.evaluate

    def evaluate(*args, **kwargs):
        asked.append(inspect.signature(real_evaluate).bind(*args, **kwargs).arguments["epsilon"])
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(algorithm, "evaluate", evaluate)
    summary = algorithm.train(algorithm.Args(**(SHORT_RUNS[name] | dict(eval_epsilon=0.3, save_model=True))))
    assert asked and set(asked) == {0.3}
    # and --evaluate plays its checkpoint with the ε it is given, not the run's
    asked.clear()
    algorithm.train(algorithm.Args(evaluate=summary["model_path"], eval_epsilon=0.7, eval_episodes=1))
    assert asked == [0.7]


@pytest.mark.parametrize("name", PIXELS)
def test_the_networks_are_the_papers(name):
    algorithm = load_algorithm(name)
    network = algorithm.ActorCritic if name == "ppo_atari" else algorithm.QNetwork
    nature = network((4, 84, 84), 4, 255.0)
    convolutions = [m for m in nature.modules() if isinstance(m, nn.Conv2d)]
    shapes = [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convolutions]
    assert shapes == [(4, 32, (8, 8), (4, 4)), (32, 64, (4, 4), (2, 2)), (64, 64, (3, 3), (1, 1))]
    widths = [(m.in_features, m.out_features) for m in nature.modules() if isinstance(m, nn.Linear)]
    assert (3136, 512) in widths
    minatar = network((4, 10, 10), 3, 1.0)
    convolutions = [m for m in minatar.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convolutions] == [(16, (3, 3), (1, 1))]
    assert (1024, 128) in [
        (m.in_features, m.out_features) for m in minatar.modules() if isinstance(m, nn.Linear)
    ]
    # pixels scaled to [0, 1]: a screen of 255s is a screen of 1s to the first layer
    seen = []
    first = next(m for m in nature.modules() if isinstance(m, nn.Conv2d))
    first.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    nature(torch.full((1, 4, 84, 84), 255, dtype=torch.uint8))
    torch.testing.assert_close(seen[0], torch.ones(1, 4, 84, 84))


@pytest.mark.parametrize("name", PIXELS)
@pytest.mark.parametrize("game", ["ALE/Breakout-v5", "ALE/Pong-v5"])
def test_a_short_run_on_an_atari_game(name, game):
    algorithm = load_algorithm(name)
    short = {
        "dqn_atari": dict(
            total_timesteps=300, learning_starts=100, buffer_size=1_000, target_network_frequency=50
        ),
        "ppo_atari": dict(total_timesteps=256, num_envs=2, num_steps=64),
        "pqn_atari": dict(total_timesteps=256, num_envs=2, num_steps=64, num_minibatches=4),
    }[name]
    # one evaluation episode: an untrained policy plays a whole game of it
    summary = algorithm.train(algorithm.Args(env_id=game, seed=1, eval_episodes=1, save_model=True, **short))
    assert len(summary["eval_returns"]) == 1
    checkpoint = torch.load(summary["model_path"], weights_only=True)
    assert checkpoint["args"]["env_id"] == game


@pytest.mark.parametrize("name", PIXELS)
@pytest.mark.parametrize(
    ("package", "env_id"), [("ale_py", "ALE/Pong-v5"), ("minatar", "MinAtar/Breakout-v1")]
)
def test_a_game_without_its_package_is_refused_in_one_line(name, package, env_id, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, package, None)  # import fails, as where the extra is not installed
    if package == "minatar":
        monkeypatch.setitem(sys.modules, "minatar.gym", None)
    algorithm = load_algorithm(name)
    with pytest.raises(SystemExit) as refused:
        algorithm.train(algorithm.Args(env_id=env_id))
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert (
        error
        == f"{name}.py: error: --env-id {env_id} needs {package.replace('_', '-')}, which is not installed: pip install -e '.[atari]'\n"
    )
    importlib.invalidate_caches()


# A file learns from pixels: with run.py's MinAtar settings on a shorter budget, seed 1's final evaluation on
# MinAtar's Breakout reaches a score a random policy does not (it scores well under 1 a game). The budgets keep
# the bar well below where the sweeps' runs were by then (their training returns, ppo_atari's about 4.4 at 100k
# and 5.5 at 200k, pqn_atari's about 4 at 200k and 5.5 at 300k): a run on another CPU learns another way.
# Each is about a minute on a quiet core, and all three are under -m slow, which keeps the default suite under
# 10 minutes on two cores: it holds each file's update by hand (test_dqn_atari.py, test_ppo_atari.py,
# test_pqn.py), and the MinAtar sweeps show each learning every game.
MINATAR_LEARNING = {"dqn_atari": (100_000, 3.0), "ppo_atari": (200_000, 3.0), "pqn_atari": (300_000, 3.0)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MINATAR_LEARNING))
def test_learns_minatar_breakout_with_its_settings(name):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run

    algorithm = load_algorithm(name)
    args = run.args_of(algorithm, "MinAtar/Breakout-v1", seed=1)
    args.total_timesteps, bar = MINATAR_LEARNING[name]
    args.eval_episodes = 30  # a final evaluation whose mean a few lucky or unlucky games do not decide
    summary = algorithm.train(args)
    assert np.mean(summary["eval_returns"]) >= bar, summary["eval_returns"]


def test_a_saved_network_evaluated_again_as_its_run_did_gives_its_final_evaluation(tmp_path, monkeypatch):
    # benchmarks/reevaluate.py plays a sweep's saved networks again with their files' --evaluate: at the run's
    # own ε and episodes, the same returns as the run's final evaluation; a run without its network is skipped
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import reevaluate

    monkeypatch.setattr(reevaluate, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(reevaluate, "WORK", tmp_path / "work")
    (tmp_path / "results").mkdir()
    algorithm = load_algorithm("pqn_atari")
    rows = []
    for seed in (1, 2):
        work_dir = tmp_path / "work" / "sweep" / f"pqn_atari__MinAtar-Breakout-v1__{seed}"
        work_dir.mkdir(parents=True)
        monkeypatch.chdir(work_dir)
        summary = algorithm.train(
            algorithm.Args(**(SHORT_RUNS["pqn_atari"] | dict(seed=seed, save_model=True)))
        )
        rows.append(
            dict(algorithm="pqn_atari", env_id="MinAtar/Breakout-v1", seed=seed, settings="", returncode=0)
        )
        rows[-1]["eval_returns"] = summary["eval_returns"]
    (tmp_path / "work" / "sweep" / "pqn_atari__MinAtar-Breakout-v1__2" / summary["model_path"]).unlink()
    (tmp_path / "results" / "sweep.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    reevaluate.main(["--sweep", "sweep", "--eval-epsilon", "0.05", "--eval-episodes", "2"])
    (again,) = [json.loads(line) for line in (tmp_path / "results" / "reevaluated" / "sweep.jsonl").open()]
    assert (again["seed"], again["eval_epsilon"], again["eval_episodes"]) == (1, 0.05, 2)
    assert again["returns"] == rows[0]["eval_returns"]
