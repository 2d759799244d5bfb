"""Every figure of the documentation site and of the README, computed from the committed result rows.

The pages under `docs/` are written by hand, but not their numbers: where a page shows a result it
holds a placeholder, `{{ results("dqn", "CartPole-v1") }}`, and the site's build (`mkdocs build`,
through `docs_hooks.py`) replaces it with what the function of that name here returns, from
`benchmarks/results/*.jsonl`. The README's generated block is written by
`python benchmarks/pages.py --readme`, and a test checks that it is what the rows give.

Which rows are a file's current results on a task is said once, in CURRENT: a sweep (a results file)
and the settings its runs were made with, today's in `benchmarks/run.py` unless said. Every other
row is history (HISTORY), shown on the History page, or a study's (each study page names its sweeps).

Statistics. A seed is *solved* (the project's word, never used otherwise) when the mean of its last 10
training returns reached the env's reward threshold and its final greedy evaluation averages at least
as much; Pendulum-v1, which has no threshold, is held to a final greedy evaluation of −200 (a bar of
ours, called "≥ −200", never "solved"). Beside the solve rate, as the field reports many-seed
results (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice", with their
`rliable`): the interquartile mean (IQM) of the per-seed final greedy evaluations with a 95%
percentile-bootstrap confidence interval (2,000 resamples of the seeds, a fixed seed: the same
interval at every build).
"""

import argparse
import ast
import json
import re
import sys
from functools import cache
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
sys.path.insert(0, str(BENCHMARKS))
import jax_scaling  # noqa: E402  (its tables; it imports no jax)
import report  # noqa: E402  (running_mean_curves)
import run  # noqa: E402  (HYPERPARAMETERS, THRESHOLDS)

# the files for pixels, held to MinAtar's Breakout in the table of every file
PIXEL_FILES = ("dqn_atari", "ppo_atari", "pqn_atari")

# The functions a page may call in a placeholder: those marked @placeholder.
PLACEHOLDERS = {}


def placeholder(function):
    PLACEHOLDERS[function.__name__] = function
    return function


# ---- what is current ----

# (file, task) → (sweep, settings): the results that stand for a file's current code and settings on a
# task. settings None: the task's settings in run.py's HYPERPARAMETERS today; a string: the settings the
# rows were made with, where run.py now spells the same run differently.
CURRENT = {
    **{
        (name, "CartPole-v1"): ("cartpole_kappa", None)
        for name in ("dqn", "double_dqn", "dueling_dqn", "per_dqn", "noisy_dqn")
    },
    ("c51", "CartPole-v1"): ("dqn_family", None),
    ("rainbow", "CartPole-v1"): ("dqn_family", None),
    ("reinforce", "CartPole-v1"): ("actor_critics", None),
    ("actor_critic", "CartPole-v1"): ("cartpole_seeds20", None),
    ("a2c", "CartPole-v1"): ("actor_critics", None),
    ("a3c", "CartPole-v1"): ("actor_critics", None),
    ("ppo", "CartPole-v1"): ("ppo_cartpole", None),
    ("pqn", "CartPole-v1"): ("pqn_cartpole", None),
    # 100 agents in one program; their seconds are of that program, not of one agent alone
    ("dqn_jax", "CartPole-v1"): ("dqn_recipe", "--huber-delta 10"),
    ("dqn", "LunarLander-v3"): ("lunarlander_20seeds", None),
    **{
        (name, "LunarLander-v3"): ("lunarlander_family", None)
        for name in ("double_dqn", "dueling_dqn", "per_dqn", "c51", "rainbow")
    },
    # run.py's flags then, with the rate, budget and buffer of today's settings appended
    ("noisy_dqn", "LunarLander-v3"): (
        "lunarlander_noisy_long",
        " ".join(run.NOISY_LUNARLANDER + run.KAPPA_LUNARLANDER)
        + " --learning-rate 8.5e-4 --total-timesteps 1000000 --buffer-size 1000000",
    ),
    ("ppo", "LunarLander-v3"): ("ppo_lunarlander", None),
    ("pqn", "LunarLander-v3"): ("pqn_lunarlander", None),
    ("reinforce", "LunarLander-v3"): ("lunarlander", None),
    ("actor_critic", "LunarLander-v3"): ("lunarlander", None),
    # κ = 1 then the default, and the settings did not say it
    **{
        (name, env_id): ("classic_control", "--total-timesteps 100000 --buffer-size 100000")
        for name in ("dqn", "double_dqn", "dueling_dqn", "per_dqn", "noisy_dqn", "c51", "rainbow")
        for env_id in ("Acrobot-v1", "MountainCar-v0")
        if not (name in ("noisy_dqn", "c51", "rainbow") and env_id == "MountainCar-v0")
    },
    **{
        (name, env_id): ("classic_control", None)
        for name in ("reinforce", "actor_critic")
        for env_id in ("Acrobot-v1", "MountainCar-v0")
    },
    **{(name, "Pendulum-v1"): ("pendulum_td3_sac", None) for name in ("ddpg", "td3", "sac")},
    ("a2c", "Pendulum-v1"): ("pendulum", None),
    ("ppo", "Pendulum-v1"): ("pendulum", None),
    ("ppo", "HalfCheetah-v5"): ("mujoco", None),
    ("ppo", "Hopper-v5"): ("mujoco", None),
    **{
        (name, env_id): ("mujoco", None)
        for name in ("td3", "sac")
        for env_id in ("InvertedPendulum-v5", "InvertedDoublePendulum-v5")
    },
    **{
        (name, env_id): ("mujoco_locomotion", None)
        for name in ("td3", "sac")
        for env_id in ("HalfCheetah-v5", "Hopper-v5")
    },
    # the MinAtar sweeps, seeds 1-3 of five games a file, resume where they stopped: a game is here once it has runs
    **{
        (name, game): (f"{name}_minatar", None)
        for name in PIXEL_FILES
        for game in run.MINATAR_GAMES
        if (RESULTS / f"{name}_minatar.jsonl").exists()
        and f'"env_id": "{game}"' in (RESULTS / f"{name}_minatar.jsonl").read_text()
    },
}

# The bar a task is held to where it is not the env's reward threshold (run.THRESHOLDS).
# MinAtar's games have none: theirs is the MinAtar paper's DQN after 5M frames, read off the learning-curve
# figure of its repository (MINATAR_PAPER), to the nearest unit.
MINATAR_DQN = {
    "MinAtar/Breakout-v1": 10, "MinAtar/SpaceInvaders-v1": 43, "MinAtar/Asterix-v1": 17,
    "MinAtar/Freeway-v1": 50, "MinAtar/Seaquest-v1": 20,
}  # fmt: skip
BARS = {"Pendulum-v1": -200} | MINATAR_DQN


def settings_of(name: str, env_id: str) -> str:
    sweep, settings = CURRENT[name, env_id]
    return " ".join(run.HYPERPARAMETERS.get((name, env_id), [])) if settings is None else settings


@cache
def rows_of(sweep: str) -> tuple:
    """The rows of a sweep, as run.py wrote them (the tuning studies' trials are not rows); on a game held to a
    bar of ours that run.py has no threshold for (MinAtar's), the step and second the training returns first
    reached the bar, read off the row's learning curve as run.py reads a threshold's."""
    lines = (RESULTS / f"{sweep}.jsonl").read_text().splitlines()
    rows = tuple(json.loads(line) for line in lines)
    for r in rows:
        if r.get("curve") and r["env_id"] in BARS and r["env_id"] not in run.THRESHOLDS:
            returns = np.array([point[2] for point in r["curve"]])
            last_10 = np.convolve(returns, np.ones(10) / 10, mode="valid") if len(returns) >= 10 else []
            crossed = np.flatnonzero(np.asarray(last_10) >= BARS[r["env_id"]])
            if len(crossed):
                r["solved_step"], r["solved_seconds"], _ = r["curve"][crossed[0] + 9]
    return rows


def current_runs(name: str, env_id: str) -> list[dict]:
    """The runs of a file's current settings on a task, one per seed (the last, where a seed ran twice)."""
    sweep, _ = CURRENT[name, env_id]
    settings = settings_of(name, env_id)
    runs = {
        r["seed"]: r
        for r in rows_of(sweep)
        if r["algorithm"] == name and r["env_id"] == env_id and r["settings"] == settings
    }
    return [runs[seed] for seed in sorted(runs)]


def threshold_of(env_id: str) -> float | None:
    return run.THRESHOLDS.get(env_id)


def solved(r: dict, env_id: str) -> bool:
    """The last 10 training returns reached the threshold, and the final greedy evaluation too."""
    threshold = threshold_of(env_id)
    if env_id in BARS:  # no threshold of the env's own: held to the bar by the final evaluation alone
        return r["returncode"] == 0 and r["eval_mean"] >= BARS[env_id]
    return r["returncode"] == 0 and r["solved_step"] is not None and r["eval_mean"] >= threshold


# ---- statistics ----


def iqm(scores) -> float:
    """The interquartile mean: the mean of the middle half of the scores (rliable's, for one task)."""
    from rliable import metrics

    return float(metrics.aggregate_iqm(np.asarray(scores, dtype=float).reshape(-1, 1)))


def iqm_interval(scores, reps: int = 2000) -> tuple[float, float, float]:
    """IQM and its 95% percentile-bootstrap interval over the seeds (rliable's stratified bootstrap,
    with one task a bootstrap of the seeds), seeded so that every build gives the same interval."""
    return _iqm_interval(tuple(sorted(float(score) for score in scores)), reps)  # the same, in any order


@cache
def _iqm_interval(scores: tuple, reps: int) -> tuple[float, float, float]:
    from rliable import library

    scores = np.asarray(scores, dtype=float).reshape(-1, 1)
    # rliable's stratified bootstrap draws its resamples from numpy's global generator, whatever
    # random_state it is given: seeded here, and given back as it was
    state = np.random.get_state()
    np.random.seed(0)
    try:
        estimates, intervals = library.get_interval_estimates(
            {"x": scores}, lambda x: np.array([iqm(x)]), reps=reps
        )
    finally:
        np.random.set_state(state)
    low, high = intervals["x"][:, 0]
    return float(estimates["x"][0]), float(low), float(high)


def number(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}".replace("-", "−")


def median_range(values, digits: int = 0) -> str:
    if not values:
        return "–"
    return (
        f"{number(np.median(values), digits)} ({number(min(values), digits)}–{number(max(values), digits)})"
    )


def iqm_text(scores) -> str:
    """'IQM [low, high]' over the seeds' scores; with one or two seeds the IQM alone, and why no interval."""
    if not len(scores):
        return "–"
    estimate, low, high = iqm_interval(scores)
    if len(scores) < 3:
        return f"{number(estimate)} ({len(scores)} seed{'s' if len(scores) > 1 else ''}: no interval)"
    return f"{number(estimate)} [{number(low)}, {number(high)}]"


# ---- placeholders: each returns markdown ----


@placeholder
def solve_rate(name: str, env_id: str) -> str:
    """'19 of 20' (solved, or ≥ the bar where the task has no threshold)."""
    runs = current_runs(name, env_id)
    return f"{sum(solved(r, env_id) for r in runs)} of {len(runs)}"


def word(env_id: str) -> str:
    """What a seed that passes is called on this task: solved, or ≥ the bar."""
    return f"≥ {number(BARS[env_id], 0)}" if env_id in BARS else "solved"


def summary(name: str, env_id: str) -> dict:
    runs = current_runs(name, env_id)
    ok = [r for r in runs if r["returncode"] == 0]
    done = [r for r in ok if solved(r, env_id)]
    finals = [r["eval_mean"] for r in ok]
    estimate, low, high = iqm_interval(finals)
    # steps and seconds over the seeds solved, as every table of the site counts them
    reached = [r for r in done if r["solved_step"] is not None]
    return {
        "seeds": len(runs),
        "passed": len(done),
        "iqm": estimate,
        "ci": (low, high),
        "finals": finals,
        "mean": float(np.mean(finals)),
        "std": float(np.std(finals)),
        "steps": [r["solved_step"] for r in reached],
        "seconds": [r["solved_seconds"] for r in reached],
        "sps": float(np.median([r["sps"] for r in ok])),
        "memory": float(np.median([r["peak_memory_mb"] for r in ok])),
        "sweep": CURRENT[name, env_id][0],
    }


@placeholder
def results(name: str, env_id: str) -> str:
    """A file's current results on a task: a table, and what it is of."""
    s = summary(name, env_id)
    threshold = threshold_of(env_id)
    target = threshold if threshold is not None else BARS.get(env_id)
    bar = (
        f"solved: the last 10 training returns reached {number(threshold, 0)} and the final greedy evaluation too"
        if env_id not in BARS
        else f"≥ {number(BARS[env_id], 0)}: the final greedy evaluation (the env has no threshold of its own)"
    )
    reach = (
        "training returns at the threshold"
        if env_id not in BARS
        else f"training returns at {number(target, 0)}"
    )
    lines = [
        f"| seeds {word(env_id)} | final greedy evaluation, IQM [95% CI] | mean ± std over seeds "
        f"| steps to {reach}, median (range) over the seeds {word(env_id)} | seconds, median | steps/s | peak MiB |",
        "|---|---|---|---|---|---|---|",
        f"| {s['passed']} of {s['seeds']} | {iqm_text(s['finals'])} "
        f"| {number(s['mean'])} ± {number(s['std'])} | {median_range(s['steps'])} "
        f"| {number(np.median(s['seconds'])) if s['seconds'] else '–'} | {number(s['sps'], 0)} "
        f"| {number(s['memory'], 0)} |",
        "",
        f"*{bar}.* Seeds {seed_list(name, env_id)}, sweep [`{s['sweep']}`](../history.md#{s['sweep']}), "
        f"with {settings_text(name, env_id)}. Seconds are from launching the command, on the sweep's machine "
        "beside whatever else ran there: compare them within a sweep, not across sweeps.",
    ]
    return "\n".join(lines)


@placeholder
def seed_list(name: str, env_id: str) -> str:
    seeds = [r["seed"] for r in current_runs(name, env_id)]
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


@placeholder
def settings_text(name: str, env_id: str) -> str:
    """The settings the runs were made with, as their rows record them, and today's flags for the same runs
    where a default has changed since (the command above the results)."""
    settings = " ".join(run.command_line(run.flags(settings_of(name, env_id).split())))
    shown = f"`{settings}`" if settings else "the file's defaults"
    today = " ".join(run.command_line(run.flags(run.HYPERPARAMETERS.get((name, env_id), []))))
    if today != settings:
        today = f"`{today}`" if today else "the file's defaults"
        shown += f" as their rows record them (a default has changed since: today the same runs are {today})"
    return shown


@placeholder
def command(name: str, env_id: str) -> str:
    """The command that trains a file on a task with today's settings (run.py's), written out whole."""
    flags = run.command_line(run.flags(run.HYPERPARAMETERS.get((name, env_id), [])))
    parts, line = [f"python algorithms/{name}.py --env-id {env_id}"], []
    for flag in flags:
        if flag.startswith("--") and line:
            parts.append(" ".join(line))
            line = []
        line.append(flag)
    if line:
        parts.append(" ".join(line))
    body = " \\\n    ".join(parts)
    return f"```bash\n{body}\n```"


@placeholder
def docstring(name: str) -> str:
    """The module docstring of algorithms/<name>.py, as markdown: the page shows the file's own words."""
    source = (ROOT / "algorithms" / f"{name}.py").read_text()
    text = ast.get_docstring(ast.parse(source))
    # markdown reads a list or an indented block straight after a paragraph's line as more of the
    # paragraph: a blank line before it keeps the docstring's "- " lists lists and its "Run:" commands code
    lines = []
    for line in text.splitlines():
        previous = lines[-1] if lines else ""
        if line.startswith(("- ", "    ")) and previous.strip() and not previous.startswith(("- ", "  ")):
            lines.append("")
        lines.append(line)
    return "\n".join(lines)


@placeholder
def median_steps(name: str, env_id: str) -> str:
    s = summary(name, env_id)
    return number(np.median(s["steps"]), 0) if s["steps"] else "–"


@placeholder
def finals(name: str, env_id: str) -> str:
    """The per-seed final greedy evaluations, in seed order, those that miss the bar in bold."""
    parts = []
    for r in current_runs(name, env_id):
        text = f"{number(r['eval_mean'])}"
        parts.append(text if solved(r, env_id) else f"**{text}**")
    return ", ".join(parts)


# ---- any sweep, for the studies and the History page ----


def sweep_runs(
    sweep: str, algorithm: str | None = None, env_id: str | None = None, settings: str | None = None
):
    return [
        r
        for r in rows_of(sweep)
        if r.get("env_id") is not None
        and (algorithm is None or r["algorithm"] == algorithm)
        and (env_id is None or r["env_id"] == env_id)
        and (settings is None or r["settings"] == settings)
    ]


@placeholder
def stat(
    sweep: str, algorithm: str, what: str, env_id: str | None = None, settings: str | None = None
) -> str:
    """One figure of a sweep's runs of a file (with these settings, on this env, where the sweep has
    several): "solved" (n of N), "median_steps", "median_seconds", "iqm", "mean" (final greedy
    evaluation), "seeds" (how many)."""
    runs = sweep_runs(sweep, algorithm, env_id, settings)
    if not runs:
        raise ValueError(f"no runs of {algorithm} in {sweep} ({env_id}, {settings!r})")
    env = runs[0]["env_id"]
    ok = [r for r in runs if r["returncode"] == 0]
    if what == "solved":
        return f"{sum(solved(r, env) for r in runs)} of {len(runs)}"
    if what == "seeds":
        return str(len(runs))
    if what == "median_steps":
        steps = [r["solved_step"] for r in ok if solved(r, env) and r["solved_step"] is not None]
        return number(np.median(steps), 0) if steps else "–"
    if what == "median_seconds":
        seconds = [r["solved_seconds"] for r in ok if solved(r, env) and r["solved_seconds"] is not None]
        return number(np.median(seconds)) if seconds else "–"
    if what == "iqm":
        return iqm_text([r["eval_mean"] for r in ok])
    if what == "mean":
        return number(np.mean([r["eval_mean"] for r in ok]))
    raise ValueError(f"stat(): no figure called {what!r}")


# sweeps whose rows a page shows as today's besides CURRENT's: the Atari learning runs and the random policy
CURRENT_ELSEWHERE = ("atari_learning", "atari_random")


def is_current(sweep: str, algorithm: str, env_id: str, settings: str) -> bool:
    """Whether a sweep's runs of a file with these settings are the ones its pages show as today's."""
    if sweep in CURRENT_ELSEWHERE:
        return True
    return (
        (algorithm, env_id) in CURRENT
        and CURRENT[algorithm, env_id][0] == sweep
        and settings == settings_of(algorithm, env_id)
    )


@placeholder
def sweep_table(sweep: str, env_id: str | None = None) -> str:
    """A sweep's runs, one row per file and settings: whether they are today's, the seeds solved (or at the
    task's bar), the final evaluation's IQM [95% CI] and mean ± std over seeds, the steps and seconds to the
    threshold (or the bar) over the seeds that passed."""
    runs = sweep_runs(sweep, env_id=env_id)
    groups = {}
    for r in runs:
        groups.setdefault((r["env_id"], r["algorithm"], r["settings"]), []).append(r)
    lines = [
        "| task | file | settings | today's | seeds solved (or ≥ the task's bar) "
        "| final evaluation (greedy; ε = 0.05 on pixels), IQM [95% CI] | mean ± std "
        "| steps to the threshold (or the bar), median | seconds, median |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (env, algorithm, settings), group in groups.items():
        ok = [r for r in group if r["returncode"] == 0]
        finals = [r["eval_mean"] for r in ok]
        done = [r for r in ok if solved(r, env)]
        reached = [r for r in done if r["solved_step"] is not None]  # a bar of ours has no step of its own
        shown = f"`{settings}`" if settings else "defaults"
        passed = (
            f"{len(done)} of {len(group)}" + (f" ≥ {number(BARS[env], 0)}" if env in BARS else "")
            if env in BARS or threshold_of(env) is not None
            else f"– ({len(group)} run{'s' if len(group) > 1 else ''}; no threshold)"
        )
        lines.append(
            f"| {env} | {algorithm} | {shown} | {'yes' if is_current(sweep, algorithm, env, settings) else 'no'} "
            f"| {passed} | {iqm_text(finals)} "
            f"| {number(np.mean(finals))} ± {number(np.std(finals))} "
            f"| {median_range([r['solved_step'] for r in reached])} "
            f"| {number(np.median([r['solved_seconds'] for r in reached])) if reached else '–'} |"
        )
    return "\n".join(lines)


@placeholder
def history() -> str:
    """Every sweep, its rows as a table, the current ones said so."""
    current = {sweep for sweep, _ in CURRENT.values()}
    parts = []
    for path in sorted(RESULTS.glob("*.jsonl")):
        sweep = path.stem
        if not sweep_runs(sweep):
            continue
        status = (
            "holds today's results (the rows marked so; the others are earlier settings or a study's)"
            if sweep in current or sweep in CURRENT_ELSEWHERE
            else "superseded or a study's"
        )
        parts.append(f"## {sweep}\n\n`benchmarks/results/{sweep}.jsonl`: {status}.\n\n{sweep_table(sweep)}\n")
    return "\n".join(parts)


# ---- published figures, to place ours ----

ZOO = (
    "RL Baselines3 Zoo, benchmark.md: one trained agent, its deterministic policy evaluated over ~150k steps",
    "https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/benchmark.md",
)
TD3_PAPER = (
    "Fujimoto et al. 2018, Table 1: the best average return over 1M steps, 10 seeds, on the v1 tasks",
    "https://arxiv.org/abs/1802.09477",
)
# CleanRL's documentation of its classic-control files: the average return of the training episodes
# (the ε-greedy policy, not a greedy evaluation), mean ± std over 3 seeds (its benchmark/*.sh: --num-seeds 3)
CLEANRL_C51 = (
    "CleanRL's documentation, c51.py: the average return of training episodes, mean ± std over 3 seeds",
    "https://docs.cleanrl.dev/rl-algorithms/c51/",
)
CLEANRL_DQN_JAX = (
    "CleanRL's documentation, dqn_jax.py: the average return of training episodes, mean ± std over 3 seeds",
    "https://docs.cleanrl.dev/rl-algorithms/dqn/",
)
CLEANRL_PQN = (
    "CleanRL's documentation, pqn.py: the average return of training episodes, mean ± std over 3 seeds",
    "https://docs.cleanrl.dev/rl-algorithms/pqn/",
)
MINATAR_PAPER = (
    "Young & Tian 2019, MinAtar: DQN's learning curves (its repository's figure, read at 5M frames; all 6 actions)",
    "https://github.com/kenjyoung/MinAtar",
)
GYMNAX_PPO = (
    "gymnax's README: the returns of its PPO checkpoints on its JAX ports of the games (budget not given)",
    "https://github.com/RobertTLange/gymnax",
)
GYMNAX_PPO_RETURNS = {
    "MinAtar/Breakout-v1": "28", "MinAtar/SpaceInvaders-v1": "131", "MinAtar/Asterix-v1": "15",
    "MinAtar/Freeway-v1": "58",
}  # fmt: skip
# (file, task) → [(algorithm as published, task as published, mean ± std, steps, source)]
PUBLISHED = {
    ("dqn", "CartPole-v1"): [("DQN", "CartPole-v1", "500.0 ± 0.0", "50k", ZOO)],
    ("dqn", "LunarLander-v3"): [("DQN", "LunarLander-v2", "154.4 ± 79.2", "100k", ZOO)],
    ("dqn", "Acrobot-v1"): [("DQN", "Acrobot-v1", "−76.6 ± 11.8", "100k", ZOO)],
    ("dqn", "MountainCar-v0"): [("DQN", "MountainCar-v0", "−100.8 ± 9.9", "120k", ZOO)],
    ("c51", "CartPole-v1"): [
        ("QR-DQN (the zoo has no C51)", "CartPole-v1", "500.0 ± 0.0", "50k", ZOO),
        ("C51", "CartPole-v1", "481.20 ± 20.53", "500k", CLEANRL_C51),
    ],
    ("c51", "LunarLander-v3"): [
        ("QR-DQN (the zoo has no C51)", "LunarLander-v2", "70.2 ± 225.5", "100k", ZOO)
    ],
    ("c51", "Acrobot-v1"): [
        ("QR-DQN (the zoo has no C51)", "Acrobot-v1", "−69.1 ± 10.0", "100k", ZOO),
        ("C51", "Acrobot-v1", "−87.70 ± 5.52", "500k", CLEANRL_C51),
    ],
    ("dqn_jax", "CartPole-v1"): [("DQN (in JAX)", "CartPole-v1", "498.38 ± 2.29", "500k", CLEANRL_DQN_JAX)],
    ("pqn", "CartPole-v1"): [("PQN", "CartPole-v1", "495.13 ± 6.89", "500k", CLEANRL_PQN)],
    ("a2c", "CartPole-v1"): [("A2C", "CartPole-v1", "500.0 ± 0.0", "500k", ZOO)],
    ("a2c", "Pendulum-v1"): [
        ("A2C (with state-dependent exploration)", "Pendulum-v1", "−163.0 ± 103.2", "1M", ZOO)
    ],
    ("ppo", "CartPole-v1"): [("PPO", "CartPole-v1", "500.0 ± 0.0", "100k", ZOO)],
    ("ppo", "LunarLander-v3"): [("PPO", "LunarLander-v2", "242.1 ± 31.8", "1M", ZOO)],
    ("ppo", "Pendulum-v1"): [
        ("PPO (with state-dependent exploration)", "Pendulum-v1", "−172.2 ± 104.2", "100k", ZOO)
    ],
    ("ppo", "HalfCheetah-v5"): [
        ("PPO", "HalfCheetah-v3", "5,819.1 ± 663.5", "1M", ZOO),
        (
            "PPO (OpenAI Baselines', run by the TD3 paper)",
            "HalfCheetah-v1",
            "1,795.4 (no std given)",
            "1M",
            TD3_PAPER,
        ),
    ],
    ("ppo", "Hopper-v5"): [
        ("PPO", "Hopper-v3", "2,410.4 ± 10.0", "1M", ZOO),
        (
            "PPO (OpenAI Baselines', run by the TD3 paper)",
            "Hopper-v1",
            "2,164.7 (no std given)",
            "1M",
            TD3_PAPER,
        ),
    ],
    ("ddpg", "Pendulum-v1"): [("DDPG", "Pendulum-v1", "−152.1 ± 94.3", "20k", ZOO)],
    ("td3", "Pendulum-v1"): [("TD3", "Pendulum-v1", "−151.9 ± 90.2", "20k", ZOO)],
    ("sac", "Pendulum-v1"): [("SAC", "Pendulum-v1", "−157.0 ± 88.7", "20k", ZOO)],
    ("td3", "HalfCheetah-v5"): [
        ("TD3", "HalfCheetah-v3", "9,655.7 ± 969.9", "1M", ZOO),
        ("TD3", "HalfCheetah-v1", "9,637.0 ± 859.1", "1M", TD3_PAPER),
    ],
    ("td3", "Hopper-v5"): [
        ("TD3", "Hopper-v3", "3,606.4 ± 4.0", "1M", ZOO),
        ("TD3", "Hopper-v1", "3,564.1 ± 114.7", "1M", TD3_PAPER),
    ],
    ("td3", "InvertedPendulum-v5"): [("TD3", "InvertedPendulum-v1", "1,000.0 ± 0.0", "1M", TD3_PAPER)],
    ("td3", "InvertedDoublePendulum-v5"): [
        ("TD3", "InvertedDoublePendulum-v1", "9,337.5 ± 15.0", "1M", TD3_PAPER)
    ],
    ("sac", "HalfCheetah-v5"): [("SAC", "HalfCheetah-v3", "9,535.5 ± 100.5", "1M", ZOO)],
    ("sac", "Hopper-v5"): [("SAC", "Hopper-v3", "2,325.5 ± 1,129.7", "1M", ZOO)],
    **{
        (name, game): [
            ("DQN", game.split("/")[1].removesuffix("-v1"), f"≈ {bar} (no std read)", "5M", MINATAR_PAPER)
        ]
        for name in PIXEL_FILES
        for game, bar in MINATAR_DQN.items()
    },
}
for _game, _figure in GYMNAX_PPO_RETURNS.items():
    PUBLISHED[("ppo_atari", _game)].append(
        ("PPO", _game.split("/")[1].removesuffix("-v1"), _figure, "–", GYMNAX_PPO)
    )


@placeholder
def published(name: str, env_id: str) -> str:
    """The published figures for the same task, each with its source; a line saying so where there are none."""
    entries = PUBLISHED.get((name, env_id), [])
    if not entries:
        return "*No published figure of this algorithm on this task to place it beside.*"
    lines = ["| published | task | final return, mean ± std | steps | source |", "|---|---|---|---|---|"]
    for algorithm, task, figure, steps, (source, url) in entries:
        lines.append(f"| {algorithm} | {task} | {figure} | {steps} | [{source}]({url}) |")
    return "To place it: " + "\n\n" + "\n".join(lines)


def versus_the_paper(mean: float, bar: float) -> str:
    """yes or no against the MinAtar paper's DQN, and a tie where the mean is within the reading's 2 units."""
    return ("yes" if mean >= bar else "no") + (" (a tie: within 2)" if abs(mean - bar) <= 2 else "")


def minatar_runs(name: str, game: str) -> list[dict]:
    """A pixel file's runs of a MinAtar game with its settings of run.py (sweep <name>_minatar), by seed."""
    sweep = f"{name}_minatar"
    rows = rows_of(sweep) if (RESULTS / f"{sweep}.jsonl").exists() else ()
    settings = " ".join(run.HYPERPARAMETERS.get((name, game), []))
    runs = (r for r in rows if (r["algorithm"], r["env_id"], r["settings"]) == (name, game, settings))
    return sorted(runs, key=lambda r: r["seed"])


@placeholder
def minatar_table(name: str) -> str:
    """A file's runs on MinAtar's five games with its settings of run.py, game by game, beside the MinAtar
    paper's DQN and gymnax's PPO: the sweep goes on where it stopped, and a game's row fills as its seeds end."""
    sweep = f"{name}_minatar"
    # benchmarks/reevaluate.py: the networks the runs saved, played again at the paper's ε
    again = RESULTS / "reevaluated" / f"{sweep}.jsonl"
    again = [json.loads(line) for line in again.read_text().splitlines()] if again.exists() else []
    lines = [
        "| game | seeds run | final evaluation of each seed | mean over the seeds | IQM [95% CI] "
        "| the mean ≥ the MinAtar paper's DQN "
        "| the last 10 training returns, mean over the seeds "
        "| at the paper's ε = 0.1, 100 episodes: the seeds' mean (seeds) "
        "| the MinAtar paper's DQN at 5M frames | gymnax's PPO | steps/s, median | minutes a run, median |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for game in run.MINATAR_GAMES:
        settings = " ".join(run.HYPERPARAMETERS.get((name, game), []))
        runs = minatar_runs(name, game)
        finals = [r["eval_mean"] for r in runs if r["returncode"] == 0]
        mean = float(np.mean(finals)) if finals else None
        training = [np.mean([p[2] for p in r["curve"][-10:]]) for r in runs if r["returncode"] == 0]
        at_01 = {
            r["seed"]: r["mean"]
            for r in again
            if (r["algorithm"], r["env_id"], r["settings"], r["eval_epsilon"], r["eval_episodes"])
            == (name, game, settings, 0.1, 100)
        }
        short = game.split("/")[1].removesuffix("-v1")
        lines.append(
            f"| {short} | {', '.join(str(r['seed']) for r in runs) or '–'} "
            f"| {', '.join(number(f) for f in finals) or '–'} | {number(mean) if finals else '–'} "
            f"| {iqm_text(finals)} "
            f"| {versus_the_paper(mean, MINATAR_DQN[game]) if finals else '–'} "
            f"| {number(float(np.mean(training))) if training else '–'} "
            f"| {f'{number(float(np.mean(list(at_01.values()))))} ({len(at_01)})' if at_01 else '–'} "
            f"| ≈ {MINATAR_DQN[game]} "
            f"| {GYMNAX_PPO_RETURNS.get(game, '–')} "
            f"| {number(float(np.median([r['sps'] for r in runs])), 0) if runs else '–'} "
            f"| {number(float(np.median([r['wall_seconds'] for r in runs])) / 60) if runs else '–'} |"
        )
    flags = run.HYPERPARAMETERS[(name, run.MINATAR_GAMES[0])]
    steps = int(flags[flags.index("--total-timesteps") + 1])
    return "\n".join(lines) + (
        f"\n\n*Sweep [`{sweep}`](../history.md#{sweep}), seeds 1–3 of each game as it goes on: a sweep resumes where "
        "it stopped, and a game's row fills as its seeds end (an empty row: not run yet; the mean is of the seeds "
        "run so far). "
        f"{steps:,} steps a run (MinAtar has no frame skip: a step is a frame), one run at a "
        "time on a CPU core beside another sweep. The final evaluation is the mean of 10 episodes played ε-greedily "
        "with ε = 0.05, and it is what is held to the MinAtar paper's DQN; the training returns are played at the run's own "
        "exploration (dqn_atari's ε = 0.01, pqn_atari's 0.05, ppo_atari's sampled policy). The paper's curves are of "
        "training episodes at its ε = 0.1: each run's final network played again at that ε, 100 episodes "
        "(`benchmarks/reevaluate.py`, where the run kept its network), sets it beside them like for like. The paper's DQN ran 5M frames with all 6 actions; gymnax's PPO figures are of checkpoints of "
        "its own budget. Sources: "
        f"[{MINATAR_PAPER[0]}]({MINATAR_PAPER[1]}); [{GYMNAX_PPO[0]}]({GYMNAX_PPO[1]}). The paper's figures were read "
        "off its plotted curves to the nearest unit, so a mean within 2 of one is marked a tie.*"
    )


@placeholder
def minatar_verdict(name: str) -> str:
    """How many of MinAtar's five games a file's mean final evaluation is at or above the MinAtar paper's DQN
    on, which games, and which still have fewer than three seeds."""
    above, below, short = [], [], []
    for game in run.MINATAR_GAMES:
        finals = [r["eval_mean"] for r in minatar_runs(name, game) if r["returncode"] == 0]
        if not finals:
            continue
        label = game.split("/")[1].removesuffix("-v1")
        mean = float(np.mean(finals))
        (above if mean >= MINATAR_DQN[game] else below).append(
            f"{label} {number(mean)} (≈ {MINATAR_DQN[game]}{'; a tie: within 2' if abs(mean - MINATAR_DQN[game]) <= 2 else ''})"
        )
        if len(finals) < 3:
            short.append(label)
    text = (
        f"By the mean of its final evaluations over the seeds run, `{name}.py` is at or above the MinAtar paper's "
        f"DQN on {len(above)} of the {len(above) + len(below)} games run"
        + (f": {', '.join(above)}" if above else "")
        + (f"; below it on {', '.join(below)}" if below else "")
        + "."
    )
    if short:
        text += f" Fewer than three seeds so far on {', '.join(short)}."
    return text


@placeholder
def pqn_beside_dqn_minatar() -> str:
    """pqn_atari beside dqn_atari on each MinAtar game: at the same steps (both runs' final evaluations), and at
    the same seconds (each file's training returns when pqn_atari's runs ended)."""

    def runs_of(name, game):
        return [r for r in minatar_runs(name, game) if r["returncode"] == 0]

    def last_10_by(r, seconds):
        returns = [point[2] for point in r["curve"] if point[1] <= seconds][-10:]
        return float(np.mean(returns)) if returns else None

    lines = [
        "| game | how many seeds run (dqn_atari, pqn_atari) | final evaluation at 2M steps, dqn_atari "
        "| final evaluation at 2M steps, pqn_atari | minutes a run, dqn_atari | minutes a run, pqn_atari "
        "| dqn_atari's steps by pqn_atari's minutes | last 10 training returns by then, dqn_atari "
        "| last 10 training returns by then, pqn_atari |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for game in run.MINATAR_GAMES:
        dqn, pqn = runs_of("dqn_atari", game), runs_of("pqn_atari", game)
        if not dqn or not pqn:
            lines.append(
                f"| {game.split('/')[1].removesuffix('-v1')} | {len(dqn)}, {len(pqn)} " + "| – " * 7 + "|"
            )
            continue
        seconds = float(np.median([r["curve"][-1][1] for r in pqn]))  # pqn's median run, to its last episode
        dqn_then = [last_10_by(r, seconds) for r in dqn]
        dqn_steps = [max([p[0] for p in r["curve"] if p[1] <= seconds], default=0) for r in dqn]
        pqn_end = [last_10_by(r, float("inf")) for r in pqn]
        lines.append(
            f"| {game.split('/')[1].removesuffix('-v1')} | {len(dqn)}, {len(pqn)} "
            f"| {number(float(np.mean([r['eval_mean'] for r in dqn])))} "
            f"| {number(float(np.mean([r['eval_mean'] for r in pqn])))} "
            f"| {number(float(np.median([r['wall_seconds'] for r in dqn])) / 60)} "
            f"| {number(float(np.median([r['wall_seconds'] for r in pqn])) / 60)} "
            f"| {int(np.median(dqn_steps)):,} "
            f"| {number(float(np.mean([v for v in dqn_then if v is not None]))) if any(v is not None for v in dqn_then) else '–'} "
            f"| {number(float(np.mean(pqn_end)))} |"
        )
    return "\n".join(lines) + (
        "\n\n*Sweeps [`dqn_atari_minatar`](../history.md#dqn_atari_minatar) and "
        "[`pqn_atari_minatar`](../history.md#pqn_atari_minatar), each file with its MinAtar settings of "
        "`benchmarks/run.py`, 2M steps a run; each file's means and medians are over the seeds it has run so far "
        "(the second column), a row filling as they end. The same steps: each run's final evaluation (10 episodes, ε = 0.05). The same seconds: each "
        "file's mean of its last 10 training returns once as many seconds had passed as pqn_atari's median run "
        "took to its last episode (dqn_atari's steps by then beside them). Training returns are ε-greedy at each "
        "file's own ε (dqn_atari's 0.01, pqn_atari's 0.05), so they understate pqn_atari's policy against "
        "dqn_atari's. Every run one at a time on a CPU core, beside another sweep on the other: seconds compare "
        "roughly, not to the percent.*"
    )


ATARI_GAMES = ("ALE/Breakout-v5",)  # Pong: for a GPU, at the full budget


@placeholder
def atari_table(name: str) -> str:
    """A file's learning runs on the Atari games (sweep atari_learning, run.py's settings), beside a random
    policy's score on the same game (atari_random): the issue's bar is 5 times it on Breakout."""

    def rows(sweep):
        return rows_of(sweep) if (RESULTS / f"{sweep}.jsonl").exists() else ()

    lines = [
        "| game | seeds run | steps | final evaluation of each seed | a random policy, mean over its seeds "
        "| final over random | steps/s, median | hours a run, median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for game in ATARI_GAMES:
        settings = " ".join(run.HYPERPARAMETERS.get((name, game), []))
        runs = [r for r in rows("atari_learning") if r["env_id"] == game and r["settings"] == settings]
        runs = [r for r in runs if r["algorithm"] == name and r["returncode"] == 0]
        randoms = [
            r["eval_mean"] for r in rows("atari_random") if r["env_id"] == game and r["returncode"] == 0
        ]
        random_mean = float(np.mean(randoms)) if randoms else None
        finals = [r["eval_mean"] for r in runs]
        ratio = f"{np.mean(finals) / random_mean:.1f}×" if finals and random_mean else "–"
        steps = f"{runs[0]['total_steps']:,}" if runs else "–"
        lines.append(
            f"| {game} | {', '.join(str(r['seed']) for r in runs) or '–'} "
            f"| {steps} "
            f"| {', '.join(number(f) for f in finals) or '–'} | {number(random_mean) if randoms else '–'} | {ratio} "
            f"| {number(float(np.median([r['sps'] for r in runs])), 0) if runs else '–'} "
            f"| {number(float(np.median([r['wall_seconds'] for r in runs])) / 3600) if runs else '–'} |"
        )
    return "\n".join(lines) + (
        "\n\n*The bar: five times a random policy's score. An empty row: not run yet. "
        "Sweeps `atari_learning` and `atari_random`: a random policy is "
        "dqn_atari.py with ε = 1 in training and in its evaluation, ten episodes a seed. The final evaluation is "
        "the mean of 10 episodes played ε-greedily with ε = 0.05; a game is the whole game, all its lives.*"
    )


@placeholder
def pixel_cost(name: str) -> str:
    """Where a step of a pixel file's goes (benchmarks/pixels_cost.py), and dqn_atari's buffer of a million."""
    path = RESULTS / "pixels_cost.json"
    if not path.exists():
        return "*Not measured yet: `python benchmarks/pixels_cost.py`.*"
    measured = json.loads(path.read_text())
    if not any(m["file"] == name for m in measured["steps"]):
        return f"*Not measured yet: `python benchmarks/pixels_cost.py --files {name}`.*"
    lines = [
        "| task | steps/s | the environment | acting | the update and the rest |",
        "|---|---|---|---|---|",
    ]
    for m in measured["steps"]:
        if m["file"] == name:
            lines.append(
                f"| {m['env_id']} | {number(m['steps_per_second'], 0)} | {number(100 * m['environment'], 0)}% "
                f"| {number(100 * m['acting'], 0)}% | {number(100 * m['update_and_rest'], 0)}% |"
            )
    steps = {m["env_id"]: m["steps"] for m in measured["steps"] if m["file"] == name}
    text = "\n".join(lines) + (
        f"\n\n*Shares of the seconds of a short run, {steps['MinAtar/Breakout-v1']:,} steps on MinAtar and "
        f"{steps['ALE/Breakout-v5']:,} on Atari, its start-up included (`benchmarks/pixels_cost.py`, one process at a time, on a machine busy with other runs): the "
        "shares hold; its steps per second are not a whole run's (the results' tables have those).*"
    )
    if name == "dqn_atari":
        b = measured["buffer"]
        text += (
            f"\n\nA replay buffer of {b['transitions']:,} Breakout transitions holds {b['frames_bytes'] / 1e9:.2f} GB "
            f"of frames; the process that filled it peaked at {number(b['peak_memory_mb'] / 1024, 2)} GiB resident "
            f"({number(b['before_buffer_mb'], 0)} MiB of it the interpreter, torch and the games before the buffer)."
        )
    return text


# ---- the home page and the README: every file in one table ----

# Each file in reading order, with what it is in a few words and the task its defaults are tuned for.
FILES = {
    "dqn": "Deep Q-Network: replay buffer, target network, ε-greedy",
    "double_dqn": "DQN whose target's action is chosen by the online network",
    "dueling_dqn": "DQN with separate value and advantage streams",
    "per_dqn": "DQN with prioritized experience replay",
    "noisy_dqn": "DQN exploring with learned noise in its layers",
    "c51": "distributional DQN: a categorical distribution of returns",
    "rainbow": "the six DQN extensions together, each behind a flag",
    "dqn_jax": "dqn.py as one compiled JAX program, many seeds at once",
    "pqn": "Q(λ) with LayerNorm, no replay buffer, no target network",
    "reinforce": "Monte Carlo policy gradient, with a learned baseline",
    "actor_critic": "one-step actor-critic on the TD error",
    "a2c": "synchronous advantage actor-critic with GAE(λ)",
    "a3c": "asynchronous advantage actor-critic, workers in processes",
    "ppo": "proximal policy optimization, the clipped objective",
    "ddpg": "deterministic policy gradient for continuous actions",
    "td3": "DDPG with twin critics, target smoothing, delayed updates",
    "sac": "soft actor-critic: maximum entropy, α learned",
    "dqn_atari": "dqn.py on pixels: the Atari games and MinAtar, each frame stored once",
    "ppo_atari": "ppo.py on pixels: the Atari games and MinAtar, one convolutional torso",
    "pqn_atari": "pqn.py on pixels: the Atari games and MinAtar, a LayerNorm before each ReLU",
}


def main_task(name: str) -> str:
    if name in PIXEL_FILES:
        return "MinAtar/Breakout-v1"
    return (
        "Pendulum-v1"
        if (name, "Pendulum-v1") in CURRENT and name in ("ddpg", "td3", "sac")
        else "CartPole-v1"
    )


@placeholder
def overview(readme: bool = False) -> str:
    """Every file: what it is, and on the task its defaults are tuned for, how many seeds it solved, the
    IQM of its final greedy evaluations, and its median steps and seconds to the threshold. On the site
    a file's name links to its page; in the README to the file, and its page is linked beside."""
    lines = [
        "| file | what it is | task | seeds solved (≥ −200 on Pendulum; on MinAtar, ≥ the MinAtar paper's DQN) "
        "| final evaluation (greedy; ε = 0.05 on pixels), IQM [95% CI] "
        "| steps to the threshold, median over the seeds solved | seconds, median | sweep |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, what in FILES.items():
        env_id = main_task(name)
        link = (
            f"[`{name}.py`](algorithms/{name}.py) ([page](docs/algorithms/{name}.md))"
            if readme
            else f"[`{name}.py`](algorithms/{name}.md)"
        )
        if (name, env_id) not in CURRENT:  # a sweep begun, with no run ended yet
            lines.append(f"| {link} | {what} | {env_id} | no run yet | – | – | – | `{name}_minatar` |")
            continue
        s = summary(name, env_id)
        lines.append(
            f"| {link} | {what} | {env_id} | {s['passed']} of {s['seeds']} "
            f"| {iqm_text(s['finals'])} "
            f"| {number(np.median(s['steps']), 0) if s['steps'] else '–'} "
            f"| {number(np.median(s['seconds'])) if s['seconds'] else '–'} | `{s['sweep']}` |"
        )
    return "\n".join(lines)


# ---- the tensorboard tags ----

# What each tag is, for every file that logs it unless TAG_OF_FILE says otherwise; x is the global step
# (environment steps, all envs counted).
TAGS = {
    "charts/episodic_return": "the return (undiscounted sum of the env's rewards) of each training episode, when it ends",
    "charts/episodic_length": "the length in steps of each training episode, when it ends",
    "charts/SPS": "environment steps per second since the run (or its resume) started",
    "charts/epsilon": "ε of the ε-greedy policy at that step",
    "charts/beta": "β, the exponent of the importance weights (N · P(i))^−β, annealed to 1",
    "charts/alpha": "α, the entropy's weight, exp(log α)",
    "charts/noise_sigma/<layer>": "the mean |σ| of a noisy layer's weights and biases (the noise's scale left to explore with)",
    "eval/episodic_return": "one point per greedy evaluation episode",
    "eval/predicted_value": "max_a Q(s₀, a) at each evaluation episode's first state, averaged over the episodes",
    "eval/discounted_return": "Σ_t γ^t r_t that followed from s₀ in those episodes: its gap to eval/predicted_value is the overestimation",
    "losses/td_loss": "mean over the batch of Huber_κ(Q_θ(s, a) − y)",
    "losses/q_values": "mean over the batch of Q_θ(s, a), the actions taken",
    "losses/loss": "the cross-entropy −Σ_i m_i log p_i(s, a) of the projected target distribution m, mean over the batch",
    "losses/policy_loss": "−mean Â log π_θ(a|s)",
    "losses/value_loss": "mean (V_θ(s) − R)²",
    "losses/entropy": "mean entropy H(π_θ(·|s)) of the policy at the states learned from",
    "losses/actor_loss": "−mean Q_θ(s, μ_φ(s))",
    "losses/critic_loss": "mean (Q_θ(s, a) − y)²",
    "losses/approx_kl": "mean [(ρ − 1) − log ρ] over the last minibatch, an estimate of KL(π_old ‖ π_θ)",
    "losses/clipfrac": "the share of transitions whose ratio ρ left [1 − ε, 1 + ε]",
}
TAG_OF_FILE = {
    (
        "per_dqn",
        "losses/td_loss",
    ): "mean over the batch of w_i Huber_κ(Q_θ(s, a) − y), w_i the importance weights",
    (
        "rainbow",
        "losses/loss",
    ): "mean over the batch of w_i −Σ m log p(s, a), the importance-weighted cross-entropy "
    "(with --no-distributional, of w_i Huber_κ(Q_θ(s, a) − y))",
    (
        "rainbow",
        "charts/epsilon",
    ): "ε of the ε-greedy policy with --no-noisy; 0 while the noisy layers explore",
    (
        "rainbow",
        "charts/beta",
    ): "β, the exponent of the importance weights (N · P(i))^−β, annealed to 1 (with --no-prioritized, weights of 1 whatever β)",
    (
        "rainbow",
        "eval/predicted_value",
    ): "max_a Q(s₀, a) of the means μ (no noise) at each evaluation episode's first state, averaged over the episodes",
    (
        "noisy_dqn",
        "losses/q_values",
    ): "mean over the batch of Q_θ(s, a; ε), the actions taken, with the update's noise",
    (
        "noisy_dqn",
        "eval/predicted_value",
    ): "max_a Q(s₀, a) of the means μ (no noise) at each evaluation episode's first state, averaged over the episodes",
    (
        "pqn",
        "losses/td_loss",
    ): "½ mean over the last minibatch of (Q_θ(s, a) − G)², G the Q(λ) return, in rewards × --reward-scale",
    (
        "pqn",
        "losses/q_values",
    ): "mean over the last minibatch of Q_θ(s, a), the actions taken, in rewards × --reward-scale",
    (
        "pqn",
        "eval/predicted_value",
    ): "max_a Q(s₀, a) at each evaluation episode's first state, averaged over the episodes, in rewards × --reward-scale",
    (
        "pqn",
        "eval/discounted_return",
    ): "Σ_t γ^t r_t that followed from s₀, times --reward-scale (Q's units): its gap to eval/predicted_value is the overestimation",
    ("dqn_jax", "losses/td_loss"): "mean over the batch of Huber_κ(Q_θ(s, a) − y), per agent",
    (
        "dqn_jax",
        "charts/SPS",
    ): "environment steps per second of each agent since the program started (compilation included), all agents stepping together",
    ("reinforce", "losses/policy_loss"): "−mean ψ log π_θ(a|s), ψ the return (less the baseline), normalised",
    ("reinforce", "losses/value_loss"): "mean (V(s) − G)², the baseline's regression on the return",
    ("actor_critic", "losses/actor_loss"): "−mean δ̂ log π(a|s) − β H, δ̂ the TD error scaled by its spread",
    ("actor_critic", "losses/critic_loss"): "mean δ², δ = r + γ (1 − terminated) V(s') − V(s)",
    ("ppo", "losses/policy_loss"): "L^CLIP = −mean min(ρ Â, clip(ρ, 1 − ε, 1 + ε) Â), of the last minibatch",
    (
        "ppo",
        "losses/value_loss",
    ): "L^V, ½ mean of the squared error (clipped around V_old with --clip-vloss), of the last minibatch",
    ("ppo", "losses/entropy"): "mean entropy H(π_θ(·|s)) over the last minibatch",
    (
        "ppo",
        "losses/clipfrac",
    ): "the share of transitions whose ratio ρ left [1 − ε, 1 + ε], over every minibatch of the rollout's epochs",
    ("a2c", "losses/policy_loss"): "−mean Â log π_θ(a|s), Â divided by its std over the rollout",
    (
        "a2c",
        "losses/value_loss",
    ): "mean (V_θ(s) − R)², R the λ-return (in the scaled rewards' units with --normalize-reward)",
    (
        "a3c",
        "losses/policy_loss",
    ): "−mean Â log π_θ'(a|s) over one worker's rollout, Â divided by its std there (each worker reports every 10th of its updates)",
    ("a3c", "losses/value_loss"): "mean (V_θ'(s) − R)² over one worker's rollout, R the λ-return",
    ("a3c", "losses/entropy"): "mean entropy H(π_θ'(·|s)) over one worker's rollout",
    (
        "td3",
        "losses/critic_loss",
    ): "mean (Q_θ1(s, a) − y)² + mean (Q_θ2(s, a) − y)², both critics' losses summed",
    ("td3", "losses/q_values"): "mean over the batch of Q_θ1(s, a)",
    ("sac", "losses/critic_loss"): "mean (Q_θ1(s, a) − y)² + mean (Q_θ2(s, a) − y)², y the soft target",
    ("sac", "losses/q_values"): "mean over the batch of Q_θ1(s, a)",
    ("sac", "losses/actor_loss"): "mean α log π_φ(ã|s) − min_i Q_θi(s, ã)",
    ("sac", "losses/entropy"): "−mean log π_φ(ã|s), the policy's entropy as its draws estimate it",
    (
        "sac",
        "eval/predicted_value",
    ): "Q_θ1(s₀, ã₀) at the greedy action, a soft value (it counts the entropy bonuses to come)",
    ("ddpg", "eval/predicted_value"): "Q_θ(s₀, μ_φ(s₀)) at each evaluation episode's first state",
    ("td3", "eval/predicted_value"): "Q_θ1(s₀, μ_φ(s₀)) at each evaluation episode's first state",
    ("td3", "losses/actor_loss"): "−mean Q_θ1(s, μ_φ(s)), at the delayed actor updates",
    (
        "sac",
        "charts/alpha",
    ): "α = exp(log α), the entropy's weight: it falls while the policy's entropy is above H̄ = −|A| and rises while below (fixed with --no-autotune)",
    (
        "sac",
        "eval/discounted_return",
    ): "Σ_t γ^t r_t that followed from s₀ with the mean action, no entropy bonus in it: its gap to eval/predicted_value holds the bonuses as well as any overestimation",
}
# the files for pixels: their parents' tags, but for what clipping the rewards and ε in the evaluations change
TAG_OF_FILE |= {("ppo_atari", tag): meaning for (name, tag), meaning in TAG_OF_FILE.items() if name == "ppo"}
TAG_OF_FILE |= {
    (
        "dqn_atari",
        "losses/td_loss",
    ): "mean over the batch of Huber_κ(Q_θ(s, a) − y), y from the rewards clipped to ±1",
    (
        "dqn_atari",
        "losses/q_values",
    ): "mean over the batch of Q_θ(s, a), the actions taken, in clipped rewards' units",
    (
        "dqn_atari",
        "eval/discounted_return",
    ): "Σ_t γ^t clip(r_t) that followed from s₀, in Q's own units: the clipped rewards, up to the game's end "
    "or, with --life-loss-ends-bootstrap, its first lost life; its gap to eval/predicted_value is the overestimation",
    **{
        (
            name,
            "eval/episodic_return",
        ): "one point per evaluation episode, played ε-greedily with --eval-epsilon "
        "(0.05: the Nature paper's); the game's own score"
        for name in PIXEL_FILES
    },
    **{
        (
            name,
            "charts/episodic_return",
        ): "the game's own score (unclipped) of each training episode, a whole game "
        "whatever lives it took, when it ends"
        for name in PIXEL_FILES
    },
    (
        "pqn_atari",
        "losses/td_loss",
    ): "½ mean over the last minibatch of (Q_θ(s, a) − G)², G the Q(λ) return of the rewards clipped to ±1",
    (
        "pqn_atari",
        "losses/q_values",
    ): "mean over the last minibatch of Q_θ(s, a), the actions taken, in clipped rewards' units",
}
TAG_OF_FILE[("pqn_atari", "eval/discounted_return")] = TAG_OF_FILE[("dqn_atari", "eval/discounted_return")]
TAG = re.compile(r'"((?:charts|losses|eval)/[A-Za-z_/]+)')


def logged_tags(name: str) -> list[str]:
    """The tags a file logs, read off its source (the noisy layers' own tags as one)."""
    source = (ROOT / "algorithms" / f"{name}.py").read_text()
    found = {tag.rstrip("/") for tag in TAG.findall(source)}
    if "charts/noise_sigma" in found:
        found = found - {"charts/noise_sigma"} | {"charts/noise_sigma/<layer>"}
    found |= {"charts/SPS"}  # written by the plumbing as an f-string-free literal split over lines
    return sorted(found, key=lambda tag: (tag.split("/")[0] != "charts", tag.split("/")[0] != "losses", tag))


@placeholder
def tags(name: str) -> str:
    """A table of every tag a file logs, and what it is."""
    lines = ["| tag | what it is |", "|---|---|"]
    for tag in logged_tags(name):
        meaning = TAG_OF_FILE.get((name, tag), TAGS[tag]).replace("|", "\\|")  # π(a|s) is no cell's end
        lines.append(f"| `{tag}` | {meaning} |")
    source = (ROOT / "algorithms" / f"{name}.py").read_text()
    if "add_text" in source and '"hyperparameters"' in source:
        lines.append("| `hyperparameters` (text) | every flag of the run and its value, as a table |")
    return "\n".join(lines)


# ---- figures, drawn at each build into docs/figures/ (not committed: they are the rows' drawing) ----

FIGURES = ROOT / "docs" / "figures"


def figure_name(name: str, env_id: str) -> str:
    return f"{name}_{env_id.replace('/', '-')}.png"  # MinAtar/Breakout-v1: one file, not a folder


@placeholder
def curves(name: str, env_id: str) -> str:
    """The learning curves of a file's current runs on a task, as an image on the page."""
    return f"![{name}.py on {env_id}: learning curves](../figures/{figure_name(name, env_id)})"


@placeholder
def task_figure(env_id: str) -> str:
    return f"![The files on {env_id}](figures/task_{env_id.replace('/', '-')}.png)"


@placeholder
def minatar_curves(name: str) -> str:
    """A file's learning curves on each MinAtar game it has runs of so far."""
    games = [game for game in run.MINATAR_GAMES if (name, game) in CURRENT]
    return "\n\n".join(curves(name, game) for game in games) or "*No runs yet.*"


@placeholder
def minatar_task_figures() -> str:
    """The MinAtar games' figures, of the games whose sweeps have runs so far."""
    games = [game for game in run.MINATAR_GAMES if any(task == game for _, task in CURRENT)]
    return "\n\n".join(f"### {game}\n\n{task_figure(game)}" for game in games) or "*No runs yet.*"


def draw_curves(name: str, env_id: str, path: Path):
    """The mean of the last 10 training returns against environment steps, and against seconds from
    launch: the median over the seeds, the range between the lowest and the highest shaded."""
    import matplotlib.pyplot as plt

    runs = [r for r in current_runs(name, env_id) if r["returncode"] == 0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, column, label in ((axes[0], 0, "environment steps"), (axes[1], 1, "seconds from launch")):
        grid = np.linspace(0, max(r["curve"][-1][column] for r in runs), 200)
        values = report.running_mean_curves(runs, column, grid)
        with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore", RuntimeWarning)
            ax.plot(
                grid,
                np.nanmedian(values, axis=0),
                color="C0",
                label=f"median of {len(runs)} seed{'s' * (len(runs) != 1)}",
            )
            ax.fill_between(
                grid, np.nanmin(values, axis=0), np.nanmax(values, axis=0), alpha=0.25, color="C0"
            )
        target = threshold_of(env_id) if threshold_of(env_id) is not None else BARS.get(env_id)
        if target is not None:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean of the last 10 training returns")
    axes[0].legend(fontsize=8, loc="lower right")
    # a run stops at the env's own threshold; with none (Pendulum, MinAtar) it plays its whole budget
    ends = "each run its whole budget" if env_id in BARS else "runs stop once solved"
    fig.suptitle(f"{name}.py on {env_id} (sweep {CURRENT[name, env_id][0]}): {ends}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def colour(i: int):
    """A colour of its own for each of up to 20 files (matplotlib's tab20)."""
    import matplotlib

    return matplotlib.colormaps["tab20"](i % 20)


def draw_task(env_id: str, path: Path):
    """Every file on a task: left, the IQM of the final greedy evaluation with its 95% interval; right,
    the share of seeds whose training returns had reached the threshold (or the bar) by each step."""
    import matplotlib.pyplot as plt

    names = [name for (name, task) in CURRENT if task == env_id]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.6))
    for i, name in enumerate(names):
        s = summary(name, env_id)
        axes[0].errorbar(
            s["iqm"], i, xerr=[[s["iqm"] - s["ci"][0]], [s["ci"][1] - s["iqm"]]], fmt="o", color=colour(i)
        )
        runs = current_runs(name, env_id)
        steps = sorted(r["solved_step"] for r in runs if r["solved_step"] is not None)
        end = max(r["total_steps"] or 0 for r in runs if r["returncode"] == 0)
        xs = [0, *steps, end]
        ys = [0, *np.arange(1, len(steps) + 1) / len(runs), len(steps) / len(runs)]
        axes[1].step(
            xs,
            ys,
            where="post",
            color=colour(i),
            linestyle=("-", "--")[i // 10 % 2],
            label=f"{name} ({len(runs)} seed{'s' * (len(runs) != 1)})",
        )
    axes[0].set_yticks(range(len(names)), [f"{name}.py" for name in names])
    axes[0].invert_yaxis()
    pixels = env_id.startswith("MinAtar/")  # evaluated ε-greedily; held to the MinAtar paper's DQN
    axes[0].set_xlabel(f"final {'evaluation (ε = 0.05)' if pixels else 'greedy evaluation'}: IQM and 95% CI")
    target = threshold_of(env_id) if threshold_of(env_id) is not None else BARS.get(env_id)
    if target is not None:
        axes[0].axvline(target, color="grey", linestyle="--", linewidth=1)
    axes[1].set_xlabel("environment steps")
    axes[1].set_ylabel(
        f"share of seeds whose training\nreturns reached {'the bar' if pixels else 'the threshold'}"
    )
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{env_id}: each file's current settings, each from its own sweep", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def outdated(path: Path, sweeps) -> bool:
    """Whether a figure is missing, or older than this file, run.py's settings or the rows it is drawn from."""
    sources = [Path(__file__), Path(run.__file__), *(RESULTS / f"{sweep}.jsonl" for sweep in sweeps)]
    return not path.exists() or path.stat().st_mtime < max(source.stat().st_mtime for source in sources)


def draw_all(folder: Path = FIGURES):
    """Draw every figure the pages show, into `folder` (those already drawn from the same rows kept)."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    for name, env_id in CURRENT:
        path = folder / figure_name(name, env_id)
        if outdated(path, [CURRENT[name, env_id][0]]):
            draw_curves(name, env_id, path)
    for env_id in sorted({env_id for _, env_id in CURRENT}):
        path = folder / f"task_{env_id.replace('/', '-')}.png"
        if outdated(path, [sweep for (_, task), (sweep, _) in CURRENT.items() if task == env_id]):
            draw_task(env_id, path)


# ---- for the policy-gradient and continuous pages ----


def runs_matching(sweep: str, algorithm: str, env_id: str, pattern: str = "") -> list[dict]:
    """A sweep's runs of a file on a task whose settings the regular expression `pattern` finds in ("" finds
    every one), one per seed (the last, where a seed ran twice), in seed order."""
    runs = {r["seed"]: r for r in sweep_runs(sweep, algorithm, env_id) if re.search(pattern, r["settings"])}
    if not runs:
        raise ValueError(f"no runs of {algorithm} on {env_id} in {sweep} with settings matching {pattern!r}")
    return [runs[seed] for seed in sorted(runs)]


def run_of(sweep: str, algorithm: str, env_id: str, seed: int, pattern: str = "") -> dict:
    found = [r for r in runs_matching(sweep, algorithm, env_id, pattern) if r["seed"] == seed]
    if not found:
        raise ValueError(f"no run of {algorithm} on {env_id} with seed {seed} in {sweep} ({pattern!r})")
    return found[0]


@placeholder
def at_least(sweep: str, algorithm: str, env_id: str, bar: float, pattern: str = "") -> str:
    """'2 of 3': the runs whose final greedy evaluation averaged at least `bar`, whatever their training
    returns did (a bar of ours, or the threshold without the training window's half of "solved")."""
    runs = runs_matching(sweep, algorithm, env_id, pattern)
    return f"{sum(r['returncode'] == 0 and r['eval_mean'] >= bar for r in runs)} of {len(runs)}"


@placeholder
def solved_where(sweep: str, algorithm: str, env_id: str, pattern: str = "") -> str:
    """'3 of 5': the runs solved (≥ the bar on Pendulum) among those whose settings match `pattern`."""
    runs = runs_matching(sweep, algorithm, env_id, pattern)
    return f"{sum(solved(r, env_id) for r in runs)} of {len(runs)}"


@placeholder
def seed_final(sweep: str, algorithm: str, env_id: str, seed: int, pattern: str = "") -> str:
    """One seed's final greedy evaluation, the mean of its episodes: '419.2'."""
    return number(run_of(sweep, algorithm, env_id, seed, pattern)["eval_mean"])


@placeholder
def sweep_finals(sweep: str, algorithm: str, env_id: str, pattern: str = "", bar: float | None = None) -> str:
    """The final greedy evaluations of a sweep's runs, in seed order ('seed 1: 234.3, …'), those under `bar`
    in bold where one is given."""
    parts = []
    for r in runs_matching(sweep, algorithm, env_id, pattern):
        text = number(r["eval_mean"])
        parts.append(
            f"seed {r['seed']}: " + (f"**{text}**" if bar is not None and r["eval_mean"] < bar else text)
        )
    return ", ".join(parts)


@placeholder
def seed_steps(
    sweep: str, algorithm: str, env_id: str, seed: int, pattern: str = "", which: str = "reached"
) -> str:
    """One seed's environment steps: 'reached', when its last 10 training returns first reached the threshold
    ('never' if they did not); 'ended', when the run stopped (solved, or at the end of its budget)."""
    r = run_of(sweep, algorithm, env_id, seed, pattern)
    if which == "reached":
        return "never" if r["solved_step"] is None else number(r["solved_step"], 0)
    if which == "ended":
        return number(r["total_steps"], 0)
    raise ValueError(f"seed_steps(): no steps called {which!r}")


def median_seconds_in(sweep: str, algorithm: str, env_id: str, over: str) -> float:
    runs = [r for r in sweep_runs(sweep, algorithm, env_id) if r["returncode"] == 0]
    if over == "solved":
        chosen = [r for r in runs if solved(r, env_id)]
    elif over == "reached":
        chosen = [r for r in runs if r["solved_step"] is not None]
    else:
        raise ValueError(f"median seconds over {over!r}: 'solved' or 'reached'")
    return float(np.median([r["solved_seconds"] for r in chosen]))


@placeholder
def sweep_seconds(sweep: str, algorithm: str, env_id: str, over: str = "solved") -> str:
    """A file's median seconds from launch until its last 10 training returns reached the threshold, in one
    sweep: over its solved seeds ('solved'), or over every seed whose training returns reached it ('reached')."""
    return number(median_seconds_in(sweep, algorithm, env_id, over))


@placeholder
def seconds_ratio(sweep: str, algorithm: str, reference: str, env_id: str, over: str = "solved") -> str:
    """'1.48×': a file's median seconds (sweep_seconds) over another file's, both in one sweep."""
    ratio = median_seconds_in(sweep, algorithm, env_id, over) / median_seconds_in(
        sweep, reference, env_id, over
    )
    return f"{ratio:.2f}×"


@placeholder
def sweep_sps(sweep: str, algorithm: str, env_id: str, pattern: str = "") -> str:
    """A file's median steps per second over its runs in one sweep (the last `charts/SPS` of each run)."""
    runs = [r for r in runs_matching(sweep, algorithm, env_id, pattern) if r["returncode"] == 0]
    return number(np.median([r["sps"] for r in runs]), 0)


@placeholder
def critic_gap(name: str, env_id: str, what: str = "gap") -> str:
    """At the final greedy evaluation of a file's current runs, the median over the seeds of the value its
    critic predicted for the episodes' first states ('predicted': eval/predicted_value), of the discounted
    return that followed ('discounted': eval/discounted_return), or of the first less the second ('gap',
    signed: above 0, the critic promised more than the policy earned)."""
    finals = [r["values"][-1] for r in current_runs(name, env_id) if r["returncode"] == 0 and r.get("values")]
    column = {"predicted": 1, "discounted": 2}
    values = [v[1] - v[2] for v in finals] if what == "gap" else [v[column[what]] for v in finals]
    text = number(np.median(values))
    return f"+{text}" if what == "gap" and not text.startswith("−") else text


def code_above_plumbing(name: str) -> list[str]:
    """A file's lines between its module docstring and the `# ---- plumbing` banner."""
    source = (ROOT / "algorithms" / f"{name}.py").read_text().split("\n# ---- plumbing")[0]
    return source.splitlines()[ast.parse(source).body[0].end_lineno :]


def learning_step(name: str) -> list[str]:
    """A file's learning step: from its `# ---- learning` comment to the next banner comment or the first
    line indented less than the comment, unindented."""
    import textwrap

    lines = code_above_plumbing(name)
    start = next(i for i, line in enumerate(lines) if "# ---- learning" in line)
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if "# ----" in lines[i] or (lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) < indent)
        ),
        len(lines),
    )
    return textwrap.dedent("\n".join(lines[start:end])).rstrip().splitlines()


@placeholder
def code_diff(parent: str, name: str, part: str = "learning") -> str:
    """A file's diff against its parent file, read off the two files at each build: 'learning', their
    learning steps (from the `# ---- learning` comment to the next banner), shown as it is; 'all', every
    line between the module docstring and the `# ---- plumbing` banner, in a block the reader opens."""
    import difflib
    import textwrap

    if part == "learning":
        old, new = learning_step(parent), learning_step(name)
    elif part == "all":
        old, new = code_above_plumbing(parent), code_above_plumbing(name)
    else:
        raise ValueError(f"code_diff(): no part called {part!r}")
    diff = list(difflib.unified_diff(old, new, f"{parent}.py", f"{name}.py", lineterm="", n=3))
    block = "```diff\n" + "\n".join(diff) + "\n```"
    if part == "learning":
        return block
    changed = sum(line[:1] in "+-" and line[:3] not in ("+++", "---") for line in diff)
    title = f"The whole diff, `{parent}.py` to `{name}.py`, below the docstrings and above the plumbing ({changed} lines changed)"
    return f'??? note "{title}"\n\n' + textwrap.indent(block, "    ", lambda line: True)


@placeholder
def source_of(name: str, function: str) -> str:
    """A top-level function of algorithms/<name>.py, as the file has it."""
    source = (ROOT / "algorithms" / f"{name}.py").read_text()
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == function)
    return "```python\n" + "\n".join(source.splitlines()[node.lineno - 1 : node.end_lineno]) + "\n```"


# ---- for the DQN family's pages ----


def family_runs(
    sweep: str, algorithm: str, env_id: str | None = None, settings: str | None = None
) -> list[dict]:
    """The finished runs of a file in a sweep, of one task and one setting (an error where the sweep
    holds several and the call does not say which)."""
    runs = [r for r in sweep_runs(sweep, algorithm, env_id, settings) if r["returncode"] == 0]
    if not runs:
        raise ValueError(f"no finished runs of {algorithm} in {sweep} ({env_id}, {settings!r})")
    if len({(r["env_id"], r["settings"]) for r in runs}) > 1:
        raise ValueError(
            f"{algorithm} in {sweep} ran on several tasks or settings: say which ({env_id}, {settings!r})"
        )
    return sorted(runs, key=lambda r: r["seed"])


@placeholder
def ratio(
    sweep: str,
    algorithm: str,
    baseline: str,
    what: str,
    env_id: str | None = None,
    settings: str | None = None,
    baseline_settings: str | None = None,
    baseline_sweep: str | None = None,
) -> str:
    """A file's figure over another's in the same sweep (or over the baseline's in `baseline_sweep`),
    as "1.09×": "seconds" and "steps", the medians to the threshold over the solved seeds of each;
    "step_cost", the baseline's median steps per second over this file's, what a step costs it."""

    def figure(sweep, name, settings):
        runs = family_runs(sweep, name, env_id, settings)
        if what == "step_cost":
            return float(np.median([r["sps"] for r in runs]))
        key = {"seconds": "solved_seconds", "steps": "solved_step"}[what]
        return float(np.median([r[key] for r in runs if solved(r, r["env_id"])]))

    mine, theirs = (
        figure(sweep, algorithm, settings),
        figure(baseline_sweep or sweep, baseline, baseline_settings),
    )
    return f"{(theirs / mine if what == 'step_cost' else mine / theirs):.2f}×"


@placeholder
def seed_stat(
    sweep: str, algorithm: str, seed: int, what: str, env_id: str | None = None, settings: str | None = None
) -> str:
    """One seed's run in a sweep: "final", its final greedy evaluation, mean ± std over the episodes;
    "steps", the steps it ran (a run stops once solved); "reached", the step at which its training
    returns first reached the threshold ("never" where they did not)."""
    runs = [r for r in family_runs(sweep, algorithm, env_id, settings) if r["seed"] == seed]
    if len(runs) != 1:
        raise ValueError(f"seed {seed} of {algorithm} in {sweep}: {len(runs)} runs")
    r = runs[0]
    if what == "final":
        return f"{number(r['eval_mean'])} ± {number(r['eval_std'])}"
    if what == "steps":
        return number(r["total_steps"], 0)
    if what == "reached":
        return number(r["solved_step"], 0) if r["solved_step"] is not None else "never"
    raise ValueError(f"seed_stat(): no figure called {what!r}")


@placeholder
def run_lengths(sweep: str, algorithm: str, env_id: str | None = None, settings: str | None = None) -> str:
    """The steps a file's runs in a sweep ran before they stopped, "median (shortest–longest)"."""
    return median_range([r["total_steps"] for r in family_runs(sweep, algorithm, env_id, settings)])


@placeholder
def jax_timing(what: str, num_seeds: int = 100) -> str:
    """dqn_jax.py beside dqn.py, each process timed whole (benchmarks/jax_scaling.py, sweep dqn_jax).
    "to_solved": each round's `dqn_jax.py --num-seeds 5` over the median seconds to the threshold of
    the five dqn.py seeds that followed it, "1.58× and 1.40×"; "runs": at the fixed budget of those
    rows, how many dqn.py runs (at their median seconds) last as long as `num_seeds` agents in one
    program; "seconds": those agents' seconds; "memory": that process's peak resident memory, MiB."""
    rows = rows_of("dqn_jax")
    if what == "to_solved":
        solved_rows = [r for r in rows if r["kind"] == "to_solved"]
        rounds = [r for r in solved_rows if r["algorithm"] == "dqn_jax"]
        dqn = [r for r in solved_rows if r["algorithm"] == "dqn"]
        ratios = [
            r["wall_seconds"] / np.median([d["solved_seconds"] for d in dqn[5 * i : 5 * i + 5]])
            for i, r in enumerate(rounds)
        ]
        return " and ".join(f"{value:.2f}×" for value in ratios)
    cost = [r for r in rows if r["kind"] == "cost"]
    per_run = float(np.median([r["wall_seconds"] for r in cost if r["algorithm"] == "dqn"]))
    (agents,) = [r for r in cost if r["algorithm"] == "dqn_jax" and r["num_seeds"] == num_seeds]
    if what == "runs":
        return number(agents["wall_seconds"] / per_run)
    if what == "seconds":
        return number(agents["wall_seconds"])
    if what == "memory":
        return number(agents["peak_memory_mb"], 0)
    raise ValueError(f"jax_timing(): no figure called {what!r}")


# ---- for the study pages ----
# The studies (docs/studies/) show more of a sweep than a file's current results: one run's figure, a
# count or a median of any runs, a ratio of two medians, a table of a sweep's variants, a tuning study's
# trials, the chance that a stop check passes, and figures of whole sweeps, drawn before the build
# (draw_studies, called by docs_hooks.py) into docs/figures/studies/. A selection of runs is a sweep and,
# where it needs them, a file, a task, the exact settings, `has` (pieces of the settings, each a whole
# flag and its value) and seeds.

STUDY_FIGURES = FIGURES / "studies"


def study_runs(
    sweep: str,
    algorithm: str | None = None,
    env_id: str | None = None,
    settings: str | None = None,
    has=None,
    seeds=None,
) -> list[dict]:
    """The runs of a sweep that match; an error where none does (a page must not show an empty figure).
    A piece of `has` that begins with "!" is a flag the settings must not give."""
    pieces = [has] if isinstance(has, str) else list(has or [])

    def holds(settings: str, piece: str) -> bool:
        if piece.startswith("!"):
            return piece[1:] not in settings.split()
        return f" {piece} " in f" {settings} "

    chosen = [
        r
        for r in sweep_runs(sweep, algorithm, env_id, settings)
        if all(holds(r["settings"], piece) for piece in pieces) and (seeds is None or r["seed"] in seeds)
    ]
    if not chosen:
        raise ValueError(
            f"no runs in {sweep} of {algorithm} ({env_id}, {settings!r}, has {has!r}, seeds {seeds})"
        )
    return chosen


def lacking(runs: list[dict], flag: str) -> list[dict]:
    """The runs whose settings do not give this flag."""
    return [r for r in runs if flag not in r["settings"].split()]


def selected(spec) -> list[dict]:
    """A selection as a placeholder writes it: (sweep, file) or (sweep, file, {"settings": …, "has": …})."""
    sweep, algorithm, *rest = spec
    return study_runs(sweep, algorithm, **(rest[0] if rest else {}))


def one_env(runs: list[dict]) -> str:
    envs = {r["env_id"] for r in runs}
    if len(envs) != 1:
        raise ValueError(f"runs of several tasks where one was meant: {sorted(envs)}")
    return envs.pop()


def median_of(runs: list[dict], what: str) -> float:
    """A median over runs: of the solved runs for the steps and seconds to the threshold, of every
    finished run for the rest."""
    env = one_env(runs)
    ok = [r for r in runs if r["returncode"] == 0]
    done = [r for r in ok if solved(r, env)]
    values = {
        "median_steps": [r["solved_step"] for r in done],
        "median_seconds": [r["solved_seconds"] for r in done],
        "sps": [r["sps"] for r in ok],
        "wall_seconds": [r["wall_seconds"] for r in ok],
        "run_steps": [r["total_steps"] for r in ok],
        "memory": [r["peak_memory_mb"] for r in ok],
    }[what]
    if not values:
        raise ValueError(f"no run to take the median {what} of")
    return float(np.median(values))


def range_text(values, digits: int = 0) -> str:
    return f"{number(min(values), digits)}–{number(max(values), digits)}"


@placeholder
def sweep_commands(sweep: str) -> str:
    """The commands that wrote a sweep's rows, as its rows record them, in a block."""
    commands = sorted({r["command"] for r in rows_of(sweep)})
    return "```bash\n" + "\n".join(commands) + "\n```"


@placeholder
def runs_stat(
    sweep: str,
    algorithm: str,
    what: str,
    env_id: str | None = None,
    settings: str | None = None,
    has=None,
    seeds=None,
) -> str:
    """One figure of a selection of a sweep's runs. `what`: "solved" (n of N), "seeds", "unsolved",
    "at_least:<bar>" (finals ≥ the bar, n of N), "below:<x>" (finals under x, a count), "reached" (runs
    whose last 10 training returns reached the threshold, n of N), "median_steps" and "steps_range" (to
    the threshold, of the solved runs), "median_seconds", "iqm", "mean", "final_range", "min_final",
    "max_final", "median_run_steps" and "run_steps_range" (the steps each run made), "sps" (median
    steps per second), "ms_per_step", "memory" and "memory_range" (peak MiB), "minutes_range" (whole
    runs), "first_episode_seconds" (median seconds from launch to the end of the first episode)."""
    runs = study_runs(sweep, algorithm, env_id, settings, has, seeds)
    env = one_env(runs)
    ok = [r for r in runs if r["returncode"] == 0]
    done = [r for r in ok if solved(r, env)]
    finals = [r["eval_mean"] for r in ok]
    what, _, argument = what.partition(":")
    if what == "solved":
        return f"{len(done)} of {len(runs)}"
    if what == "seeds":
        return str(len(runs))
    if what == "unsolved":
        return str(len(runs) - len(done))
    if what == "at_least":
        return f"{sum(final >= float(argument) for final in finals)} of {len(runs)}"
    if what == "below":
        return str(sum(final < float(argument) for final in finals))
    if what == "reached":
        return f"{sum(r['solved_step'] is not None for r in ok)} of {len(runs)}"
    if what in ("median_steps", "median_run_steps"):
        return number(median_of(runs, "median_steps" if what == "median_steps" else "run_steps"), 0)
    if what == "steps_range":
        return range_text([r["solved_step"] for r in done])
    if what == "run_steps_range":
        return range_text([r["total_steps"] for r in ok])
    if what == "median_seconds":
        return number(median_of(runs, "median_seconds"))
    if what == "iqm":
        return iqm_text(finals)
    if what == "mean":
        return number(np.mean(finals))
    if what == "final_range":
        return range_text(finals, 1)
    if what in ("min_final", "max_final"):
        return number(min(finals) if what == "min_final" else max(finals))
    if what == "sps":
        return number(median_of(runs, "sps"), 0)
    if what == "ms_per_step":
        return number(1000 / median_of(runs, "sps"), 2)
    if what == "memory":
        return number(median_of(runs, "memory"), 0)
    if what == "memory_range":
        return range_text([r["peak_memory_mb"] for r in ok])
    if what == "minutes_range":
        return range_text([r["wall_seconds"] / 60 for r in ok])
    if what == "first_episode_seconds":
        return number(np.median([r["curve"][0][1] for r in ok]))
    raise ValueError(f"runs_stat(): no figure called {what!r}")


@placeholder
def run_value(
    sweep: str,
    algorithm: str,
    seed: int,
    what: str = "eval_mean",
    env_id: str | None = None,
    settings: str | None = None,
    has=None,
) -> str:
    """One run's own figure: "eval_mean" (its final greedy evaluation), "eval_std", "solved_step"
    (where its last 10 training returns first reached the threshold; "never"), "solved_seconds",
    "total_steps" (where it stopped), "wall_minutes", "sps", "peak_memory_mb"."""
    runs = study_runs(sweep, algorithm, env_id, settings, has, [seed])
    if len(runs) != 1:
        raise ValueError(f"{len(runs)} runs of {algorithm} seed {seed} in {sweep}: say which settings")
    r = runs[0]
    if what in ("eval_mean", "eval_std"):
        return number(r[what])
    if what in ("solved_step", "total_steps"):
        return "never" if r[what] is None else number(r[what], 0)
    if what == "solved_seconds":
        return "never" if r[what] is None else number(r[what])
    if what == "wall_minutes":
        return number(r["wall_seconds"] / 60, 0)
    if what in ("sps", "peak_memory_mb"):
        return number(r[what], 0)
    raise ValueError(f"run_value(): no figure called {what!r}")


@placeholder
def median_ratio(a, b, what: str = "median_seconds", digits: int = 2) -> str:
    """The median of selection a over the median of selection b (see median_of): "median_seconds" and
    "median_steps" (to the threshold, solved runs), "sps", "wall_seconds", "run_steps", "memory"."""
    return number(median_of(selected(a), what) / median_of(selected(b), what), digits)


def paired_ratios(before: list[dict], after: list[dict], field: str) -> list[float]:
    """after / before of a field, seed by seed, on the seeds both solved."""
    env = one_env(before + after)
    first = {r["seed"]: r for r in before if solved(r, env)}
    return [r[field] / first[r["seed"]][field] for r in after if solved(r, env) and r["seed"] in first]


@placeholder
def pair_table(
    before: str, after: str, algorithms, names=("before", "after"), env_id: str | None = None
) -> str:
    """Two sweeps of the same files side by side (the same seeds, on one machine): seeds solved, median
    steps and seconds to the threshold over the solved seeds, the ratio of those medians, and the median
    of the seed-by-seed ratio of seconds on the seeds both solved."""
    lines = [
        f"| file | seeds solved, {names[0]} → {names[1]} "
        f"| final greedy evaluation, IQM [95% CI], {names[0]} → {names[1]} "
        f"| steps to the threshold, median, {names[0]} → {names[1]} "
        f"| seconds, median, {names[0]} → {names[1]} | ratio of the medians | seed by seed, on the seeds both solved |",
        "|---|---|---|---|---|---|---|",
    ]

    def iqm_of(runs):
        return iqm_text([r["eval_mean"] for r in runs if r["returncode"] == 0])

    for algorithm in algorithms:
        old, new = study_runs(before, algorithm, env_id), study_runs(after, algorithm, env_id)
        env = one_env(old + new)
        solved_old = sum(solved(r, env) for r in old)
        solved_new = sum(solved(r, env) for r in new)
        ratios = paired_ratios(old, new, "solved_seconds")
        lines.append(
            f"| `{algorithm}.py` | {solved_old} of {len(old)} → {solved_new} of {len(new)} "
            f"| {iqm_of(old)} → {iqm_of(new)} "
            f"| {number(median_of(old, 'median_steps'), 0)} → {number(median_of(new, 'median_steps'), 0)} "
            f"| {number(median_of(old, 'median_seconds'))} → {number(median_of(new, 'median_seconds'))} "
            f"| {number(median_of(new, 'median_seconds') / median_of(old, 'median_seconds'), 2)}× "
            f"| {number(np.median(ratios), 2)}× ({len(ratios)} seeds) |"
        )
    return "\n".join(lines)


@placeholder
def misses(
    sweep: str,
    algorithm: str | None = None,
    env_id: str | None = None,
    settings: str | None = None,
    has=None,
    labels: dict | None = None,
) -> str:
    """Every run of the selection that was not solved: its file and settings (as `labels` names them,
    where given), seed, final greedy evaluation, and whether its last 10 training returns had reached
    the threshold."""
    runs = study_runs(sweep, algorithm, env_id, settings, has)
    several = len({r["settings"] for r in runs}) > 1
    lines = []
    for r in sorted(runs, key=lambda r: (r["settings"], r["seed"])):
        if solved(r, r["env_id"]):
            continue
        shown = f" `{r['settings']}`" if several and r["settings"] else ""
        if labels and r["settings"] in labels:
            shown = f", {labels[r['settings']]}"
        reached = (
            f"its training returns at the threshold from {number(r['solved_step'], 0)} steps"
            if r["solved_step"] is not None
            else "its training returns never at the threshold"
        )
        lines.append(
            f"- `{r['algorithm']}.py`{shown}, seed {r['seed']}: {number(r['eval_mean'])} ({reached})"
        )
    return "\n".join(lines) if lines else "- none"


@placeholder
def finals_of(
    sweep: str,
    algorithm: str,
    env_id: str | None = None,
    settings: str | None = None,
    has=None,
    bar: float | None = None,
) -> str:
    """The final greedy evaluations in seed order, those not solved (or under the bar, if one is given;
    none, if the bar is "none") in bold."""
    parts = []
    for r in sorted(study_runs(sweep, algorithm, env_id, settings, has), key=lambda r: r["seed"]):
        text = number(r["eval_mean"])
        good = bar == "none" or (r["eval_mean"] >= bar if bar is not None else solved(r, r["env_id"]))
        parts.append(text if good else f"**{text}**")
    return ", ".join(parts)


@placeholder
def variants_table(
    sweep: str,
    algorithm: str,
    labels: dict,
    env_id: str | None = None,
    by_steps: int | None = None,
    against: str | None = None,
) -> str:
    """A sweep's runs of one file, a row per settings (labels: settings → what to call them, in the
    order shown): seeds solved, steps to the threshold over the solved seeds, [solved by `by_steps`],
    the final greedy evaluations, [the median seconds, and their ratio to those of the file `against`
    with its defaults in the same sweep]."""
    head = "| variant | seeds solved | steps to the threshold, median (range) |"
    rule = "|---|---|---|"
    if by_steps:
        head, rule = head + f" solved by {number(by_steps, 0)} steps |", rule + "---|"
    head, rule = head + " final greedy evaluation, IQM [95% CI] | mean ± std |", rule + "---|---|"
    if against:
        head, rule = head + f" seconds, median | × `{against}.py`'s |", rule + "---|---|"
    lines = [head, rule]
    for settings, label in labels.items():
        runs = study_runs(sweep, algorithm, env_id, settings)
        env = one_env(runs)
        ok = [r for r in runs if r["returncode"] == 0]
        done = [r for r in ok if solved(r, env)]
        finals = [r["eval_mean"] for r in ok]
        row = f"| {label} | {len(done)} of {len(runs)} | {median_range([r['solved_step'] for r in done])} |"
        if by_steps:
            row += f" {sum(r['solved_step'] <= by_steps for r in done)} of {len(runs)} |"
        row += f" {iqm_text(finals)} | {number(np.mean(finals))} ± {number(np.std(finals))} |"
        if against:
            base = median_of(study_runs(sweep, against, env_id, ""), "median_seconds")
            row += f" {number(median_of(runs, 'median_seconds'))} | {number(median_of(runs, 'median_seconds') / base, 2)}× |"
        lines.append(row)
    return "\n".join(lines)


# ---- the tuning studies (benchmarks/results/tune/): their trials are not rows of run.py ----


@cache
def trials_of(study: str) -> tuple:
    lines = (RESULTS / "tune" / f"{study}.jsonl").read_text().splitlines()
    return tuple(json.loads(line) for line in lines)


@placeholder
def trials_table(study: str) -> str:
    """A study's trials, best first, as benchmarks/report.py writes them, and the plot of each setting
    against the score."""
    lines = report.study(study, list(trials_of(study)), None)
    return (
        "\n".join(lines)
        + f"\n\n![{study}: each trial's settings against its score](../figures/studies/tune_{study}.png)"
    )


def trial_of(study: str, learning_rate: float) -> dict:
    """The trial of a study whose learning rate is this one, to its first four digits."""
    found = [t for t in trials_of(study) if f"{t['config']['--learning-rate']:.4g}" == f"{learning_rate:.4g}"]
    if len(found) != 1:
        raise ValueError(f"{len(found)} trials of {study} with the learning rate {learning_rate}")
    return found[0]


@placeholder
def trial_stat(study: str, what: str, learning_rate: float | None = None) -> str:
    """A figure of a study ("trials", "finished", "stopped", "minutes": the trials' time summed) or of one
    of its trials, named by its learning rate ("finals", "mean", "run_steps_range", "median_run_steps",
    "minutes")."""
    if learning_rate is None:
        trials = trials_of(study)
        if what == "trials":
            return str(len(trials))
        if what in ("finished", "stopped"):
            return str(sum(t["stopped_early"] == (what == "stopped") for t in trials))
        if what == "minutes":
            return number(sum(t["seconds"] for t in trials) / 60, 0)
        raise ValueError(f"trial_stat(): no figure of a study called {what!r}")
    t = trial_of(study, learning_rate)
    if what == "finals":
        return ", ".join(number(final) for final in t["finals"])
    if what == "mean":
        return number(np.mean(t["finals"]))
    if what == "run_steps_range":
        return range_text([r["total_steps"] for r in t["runs"]])
    if what == "median_run_steps":
        return number(np.median([r["total_steps"] for r in t["runs"]]), 0)
    if what == "minutes":
        return number(t["seconds"] / 60, 0)
    raise ValueError(f"trial_stat(): no figure of a trial called {what!r}")


# ---- what the evaluations along a run logged: the value predicted against the return obtained ----


def late_gaps(r: dict) -> np.ndarray:
    """max_a Q(s₀, a) less the discounted return that followed, at the evaluations of the second half
    of the run (from half its last evaluation's step on)."""
    values = np.array(r["values"])
    late = values[values[:, 0] >= values[-1, 0] / 2]
    return late[:, 1] - late[:, 2]


@placeholder
def overestimation(sweep: str, algorithm: str, what: str = "mean") -> str:
    """The mean over the second half of each run of the predicted value less the return obtained:
    "mean" over the seeds, "seeds" each seed's, "last_predicted" the median over seeds of the last
    prediction."""
    runs = sorted(study_runs(sweep, algorithm), key=lambda r: r["seed"])
    if what == "mean":
        return number(np.mean([late_gaps(r).mean() for r in runs]), 0)
    if what == "seeds":
        return ", ".join(number(late_gaps(r).mean(), 0) for r in runs)
    if what == "last_predicted":
        return number(np.median([r["values"][-1][1] for r in runs]), 0)
    raise ValueError(f"overestimation(): no figure called {what!r}")


# ---- the stop rule's check, as arithmetic ----


@placeholder
def pass_chance(fail_rate: float, episodes: int, checks: int = 1, form: str = "p") -> str:
    """The chance that a policy failing a share `fail_rate` of its episodes passes at least one of
    `checks` checks of `episodes` episodes: 1 − (1 − (1 − p)^n)^k. form "p": 0.37; "not": 1 less it;
    "one_in": one time in 2.7."""
    once = (1 - fail_rate) ** episodes
    chance = 1 - (1 - once) ** checks
    if form in ("p", "not"):  # "not": that it does not pass, that at least one episode of each check fails
        value = chance if form == "p" else 1 - chance
        return "< 0.01" if value < 0.005 else f"{value:.2f}"
    if form == "one_in":
        return f"one time in {float(f'{1 / chance:.2g}'):,g}"
    raise ValueError(f"pass_chance(): no form {form!r}")


# ---- dqn_jax.py's cost, from benchmarks/jax_scaling.py's rows ----


@placeholder
def jax_tables() -> str:
    """benchmarks/jax_scaling.py's two tables: dqn_jax.py's five agents to solved beside dqn.py, and its
    cost at a fixed budget as the agents grow."""
    return "\n".join(jax_scaling.tables(list(rows_of("dqn_jax"))))


@placeholder
def speed_table(entries) -> str:
    """For each (sweep, file, task or None, `has` or None): the median steps per second of its finished runs
    (their last `charts/SPS`: the steps since the training loop began over its seconds, imports left out),
    the milliseconds a step costs at that rate, and the median peak memory."""
    lines = [
        "| file | task | sweep, settings | steps/s, median | ms per step | peak MiB, median |",
        "|---|---|---|---|---|---|",
    ]
    for sweep, algorithm, env_id, has in entries:
        runs = study_runs(sweep, algorithm, env_id, None, has)
        sps = median_of(runs, "sps")
        shown = f"`{sweep}`" + (f", `{has}`" if has else "")
        lines.append(
            f"| `{algorithm}.py` | {one_env(runs)} | {shown} | {number(sps, 0)} | {number(1000 / sps, 2)} "
            f"| {number(median_of(runs, 'memory'), 0)} |"
        )
    return "\n".join(lines)


@placeholder
def jax_agent_finals(num_seeds: int, agents: int = 5, kind: str = "cost") -> str:
    """The final greedy evaluations of the first agents (seeds 1, 2, …) of the dqn_jax.py call of
    `num_seeds` agents in benchmarks/jax_scaling.py's rows (of the first such call, of this kind)."""
    call = next(
        r
        for r in rows_of("dqn_jax")
        if r["algorithm"] == "dqn_jax" and r["kind"] == kind and r["num_seeds"] == num_seeds
    )
    return ", ".join(number(agent["eval_mean"]) for agent in call["agents"][:agents])


# ---- the study pages' figures ----

# name → (the sweeps it is drawn from, a function that draws it into the path it is given)
STUDY_DRAWINGS = {}


@placeholder
def study_figure(name: str, caption: str) -> str:
    if name not in STUDY_DRAWINGS:
        raise ValueError(f"no study figure called {name!r}")
    return f"![{caption}](../figures/studies/{name}.png)"


def seed_running_mean(r: dict) -> tuple[np.ndarray, np.ndarray]:
    """A run's mean of its last 10 training returns (fewer at its start), against environment steps."""
    curve = np.array(r["curve"])
    returns = curve[:, 2]
    return curve[:, 0], np.array([returns[max(0, i - 9) : i + 1].mean() for i in range(len(returns))])


def save_study_figure(fig, path: Path):
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)


def draw_solved_share(groups, path: Path, title: str):
    """The share of each group's runs solved with their training returns at the threshold by each
    number of steps (a curve that stops below 1 is of runs that never were)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    end = max(r["total_steps"] or 0 for _, runs in groups for r in runs)
    for i, (label, runs) in enumerate(groups):
        env = one_env(runs)
        steps = sorted(r["solved_step"] for r in runs if solved(r, env))
        xs = [0, *steps, end]
        ys = [0, *np.arange(1, len(steps) + 1) / len(runs), len(steps) / len(runs)]
        ax.step(xs, ys, where="post", color=f"C{i % 10}", label=f"{label} ({len(steps)} of {len(runs)})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("share of the runs solved,\ntraining returns at the threshold")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    save_study_figure(fig, path)


def draw_seed_panels(panels, path: Path, title: str, bar: float | None = None, sharey: bool = True):
    """A panel per selection, a line per seed: its mean of the last 10 training returns against steps,
    ended by a dot where the run was solved and a cross where it was not."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=sharey, squeeze=False)
    for ax, (label, runs) in zip(axes[0], panels):
        env = one_env(runs)
        for r in sorted(runs, key=lambda r: r["seed"]):
            steps, means = seed_running_mean(r)
            color = f"C{(r['seed'] - 1) % 10}"
            ax.plot(steps, means, color=color, linewidth=1, label=f"seed {r['seed']}")
            ax.plot(steps[-1], means[-1], marker="o" if solved(r, env) else "x", color=color, markersize=7)
        if threshold_of(env) is not None:
            ax.axhline(threshold_of(env), color="grey", linestyle="--", linewidth=1)
        if bar is not None:
            ax.axhline(bar, color="grey", linestyle=":", linewidth=1)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("mean of the last 10 training returns")
    fig.suptitle(title, fontsize=10)
    save_study_figure(fig, path)


def draw_strip(groups, path: Path, title: str):
    """Each run's steps to the threshold, a row per group: a dot per solved run, a cross at the run's last
    step for one that was not, the median of the solved a bar."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(groups) + 1.4))
    for i, (_, runs) in enumerate(groups):
        env = one_env(runs)
        done = [r["solved_step"] for r in runs if solved(r, env)]
        missed = [r["total_steps"] or 0 for r in runs if not solved(r, env)]
        ax.scatter(done, [i] * len(done), color=f"C{i % 10}", s=18)
        ax.scatter(missed, [i] * len(missed), color=f"C{i % 10}", marker="x", s=30)
        if done:
            ax.plot([np.median(done)] * 2, [i - 0.3, i + 0.3], color="black", linewidth=1.5)
    ax.set_yticks(range(len(groups)), [label for label, _ in groups])
    ax.invert_yaxis()
    ax.set_xlabel("environment steps to the threshold (dots; crosses: not solved, at the run's end)")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(title, fontsize=10)
    save_study_figure(fig, path)


def draw_pass_chance(path: Path):
    """The chance that a check of n episodes, each of which must reach the threshold, passes a policy that
    fails a share p of its episodes: (1 − p)^n."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    rates = np.logspace(-3, np.log10(0.5), 200)
    for i, n in enumerate((10, 30, 100, 300)):
        ax.plot(rates, (1 - rates) ** n, color=f"C{i}", label=f"a check of {n}")
    ax.set_xscale("log")
    ax.set_xlabel("share of its episodes in which the policy fails (from its starts)")
    ax.set_ylabel("chance that one check passes it")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_study_figure(fig, path)


def draw_check_gaps(runs: list[dict], path: Path, title: str):
    """A line per seed from the step at which its last 10 training returns first reached the threshold to
    the step at which it stopped (a check passed) or its budget ended: a dot where the final greedy
    evaluation reached the threshold too, a cross where it did not."""
    import matplotlib.pyplot as plt

    runs = sorted(runs, key=lambda r: r["seed"])
    env = one_env(runs)
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(runs) + 1.4))
    for i, r in enumerate(runs):
        good = solved(r, env)
        color = "C0" if good else "C3"
        if r["solved_step"] is not None:
            ax.plot([r["solved_step"], r["total_steps"]], [i, i], color=color, linewidth=2)
        ax.plot(r["total_steps"], i, marker="o" if good else "x", color=color, markersize=7)
    ax.set_yticks(range(len(runs)), [f"seed {r['seed']}" for r in runs])
    ax.invert_yaxis()
    ax.set_xlabel("environment steps: from the training returns at the threshold to the stop")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(title, fontsize=10)
    save_study_figure(fig, path)


def current_check(r: dict) -> int:
    """The episodes of the stop rule's check a run had, as its settings say (the last flag wins)."""
    flags = r["settings"].split()
    given = [int(flags[i + 1]) for i, flag in enumerate(flags[:-1]) if flag == "--check-episodes"]
    return given[-1] if given else 10


@placeholder
def current_checks() -> str:
    """Every file's current results on each task with the check of the stop rule their runs had."""
    lines = [
        "| task | file | sweep | check, episodes | seeds solved (or ≥ the task's bar) "
        "| final evaluation, IQM [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for (name, env_id), (sweep, _) in sorted(CURRENT.items(), key=lambda item: (item[0][1], item[0][0])):
        runs = current_runs(name, env_id)
        checks = sorted({current_check(r) for r in runs})
        passed = sum(solved(r, env_id) for r in runs)
        check = (
            ", ".join(map(str, checks))
            if env_id not in BARS
            else f"none: no threshold (≥ {number(BARS[env_id], 0)})"
        )
        finals = [r["eval_mean"] for r in runs if r["returncode"] == 0]
        lines.append(
            f"| {env_id} | `{name}.py` | `{sweep}` | {check} | {passed} of {len(runs)} | {iqm_text(finals)} |"
        )
    return "\n".join(lines)


def register_study_figure(name: str, sources, draw):
    STUDY_DRAWINGS[name] = (sources, draw)


RECIPES = {
    "--huber-delta 1": "κ = 1",
    "--huber-delta 1, gradient norm clipped at 10 (optax.clip_by_global_norm before Adam, a patched copy)": "κ = 1, gradient norm clipped at 10",
    "--huber-delta 1, gradient norm clipped at 1 (optax.clip_by_global_norm before Adam, a patched copy)": "κ = 1, gradient norm clipped at 1",
    "--huber-delta 3": "κ = 3",
    "--huber-delta 5": "κ = 5",
    "--huber-delta 10": "κ = 10",
    "--huber-delta 10 --seed 101": "κ = 10, seeds 101–200",
    "--huber-delta 100": "κ = 100",
}
ABLATION = {
    "": "all six on",
    "--no-double": "`--no-double`",
    "--no-prioritized": "`--no-prioritized`",
    "--no-dueling": "`--no-dueling`",
    "--n-step 1": "`--n-step 1`",
    "--no-noisy": "`--no-noisy`",
    "--no-distributional": "`--no-distributional`",
}
PQN_SETTINGS = {
    "--num-envs 16 --num-steps 16": "16 envs × 16 steps (the default now)",
    "--num-envs 8 --num-steps 32": "8 × 32 (the default then)",
    "--num-envs 32 --num-steps 8 --update-epochs 2": "32 × 8, 2 epochs",
    "--num-envs 16 --num-steps 16 --q-lambda 0.8": "16 × 16, λ 0.8",
    "--num-envs 16 --num-steps 16 --q-lambda 0.95": "16 × 16, λ 0.95",
    "--num-envs 16 --num-steps 16 --num-minibatches 8": "16 × 16, 8 minibatches",
    "--num-envs 16 --num-steps 16 --exploration-fraction 0.15": "16 × 16, ε over 15%",
    "--num-envs 16 --num-steps 16 --learning-rate 2e-3 --update-epochs 2 --num-minibatches 2": "16 × 16, rate 2e-3, 2 epochs of 2",
}


def unticked(label: str) -> str:
    return label.replace("`", "")


register_study_figure(
    "kappa_recipe",
    ["dqn_recipe"],
    lambda path: draw_solved_share(
        [(label, study_runs("dqn_recipe", "dqn_jax", settings=s)) for s, label in RECIPES.items()],
        path,
        "dqn_jax.py on CartPole-v1, 100 agents a recipe (dqn_recipe)",
    ),
)
register_study_figure(
    "lunarlander_checks",
    ["lunarlander_20seeds"],
    lambda path: draw_check_gaps(
        study_runs("lunarlander_20seeds", "dqn"),
        path,
        "dqn.py on LunarLander-v3, a check of 30 (lunarlander_20seeds)",
    ),
)
register_study_figure(
    "pass_chance",
    [],
    draw_pass_chance,
)
register_study_figure(
    "rainbow_ablation",
    ["rainbow_ablation"],
    lambda path: draw_strip(
        [
            (unticked(label), study_runs("rainbow_ablation", "rainbow", settings=s))
            for s, label in ABLATION.items()
        ],
        path,
        "rainbow.py on CartPole-v1, seeds 1–10 (rainbow_ablation)",
    ),
)
register_study_figure(
    "pqn_defaults",
    ["pqn_defaults"],
    lambda path: draw_strip(
        [("dqn.py, its defaults", study_runs("pqn_defaults", "dqn", settings=""))]
        + [(label, study_runs("pqn_defaults", "pqn", settings=s)) for s, label in PQN_SETTINGS.items()],
        path,
        "pqn.py's candidates beside dqn.py on CartPole-v1, seeds 1–8 (pqn_defaults)",
    ),
)
register_study_figure(
    "actor_critic_scaling",
    ["cartpole_seeds20_before", "cartpole_seeds20"],
    lambda path: draw_seed_panels(
        [
            (
                "δ unscaled, 250k steps (cartpole_seeds20_before)",
                study_runs("cartpole_seeds20_before", "actor_critic"),
            ),
            ("δ / std(δ), 500k steps (cartpole_seeds20)", study_runs("cartpole_seeds20", "actor_critic")),
        ],
        path,
        "actor_critic.py on CartPole-v1, seeds 1–20",
    ),
)
register_study_figure(
    "noisy_lunarlander",
    ["lunarlander_family", "lunarlander_noisy_sigma", "lunarlander_noisy_lr", "lunarlander_noisy_long"],
    lambda path: draw_seed_panels(
        [
            ("rate 1.7e-3, σ_0 0.5 (lunarlander_family)", study_runs("lunarlander_family", "noisy_dqn")),
            ("σ_0 1 (lunarlander_noisy_sigma)", study_runs("lunarlander_noisy_sigma", "noisy_dqn")),
            ("rate 8.5e-4 (lunarlander_noisy_lr)", study_runs("lunarlander_noisy_lr", "noisy_dqn")),
            (
                "rate 8.5e-4, 1M steps (lunarlander_noisy_long)",
                study_runs("lunarlander_noisy_long", "noisy_dqn"),
            ),
        ],
        path,
        "noisy_dqn.py on LunarLander-v3 (each panel its own scale)",
        sharey=False,
    ),
)
register_study_figure(
    "mujoco_hopper",
    ["mujoco_locomotion", "mujoco_td3_hopper_paper"],
    lambda path: draw_seed_panels(
        [
            ("td3.py, MUJOCO (mujoco_locomotion)", study_runs("mujoco_locomotion", "td3", "Hopper-v5")),
            (
                "td3.py, the TD3 paper's (mujoco_td3_hopper_paper)",
                study_runs("mujoco_td3_hopper_paper", "td3", "Hopper-v5"),
            ),
            ("sac.py, MUJOCO (mujoco_locomotion)", study_runs("mujoco_locomotion", "sac", "Hopper-v5")),
        ],
        path,
        "Hopper-v5, 300k steps (dotted: the bar of 2,500; its threshold, 3,800, dashed)",
        bar=2500,
    ),
)
register_study_figure(
    "mujoco_halfcheetah",
    ["mujoco_locomotion"],
    lambda path: draw_seed_panels(
        [
            (
                "td3.py, a check of 10",
                lacking(study_runs("mujoco_locomotion", "td3", "HalfCheetah-v5"), "--check-episodes"),
            ),
            (
                "td3.py, a check of 30",
                study_runs("mujoco_locomotion", "td3", "HalfCheetah-v5", has="--check-episodes 30"),
            ),
            (
                "sac.py, a check of 10",
                lacking(study_runs("mujoco_locomotion", "sac", "HalfCheetah-v5"), "--check-episodes"),
            ),
        ],
        path,
        "HalfCheetah-v5 (mujoco_locomotion; dashed: its threshold, 4,800)",
    ),
)
for _sweep, _env in (("lunarlander_values", "LunarLander-v3"), ("cartpole_values", "CartPole-v1")):
    register_study_figure(
        f"{_sweep}_{_env}_values",
        [_sweep],
        lambda path, sweep=_sweep, env=_env: report.plot_values(
            env, list(rows_of(sweep)), path.parent, sweep
        ),
    )
for _study in (
    "dqn_LunarLander-v3",
    "dqn_LunarLander-v3_5seeds",
    "dqn_LunarLander-v3_clipped",
    "dqn_LunarLander-v3_fixed",
):
    register_study_figure(
        f"tune_{_study}",
        [f"tune/{_study}"],
        lambda path, study=_study: report.study(study, list(trials_of(study)), path.parent),
    )


def draw_studies(folder: Path = STUDY_FIGURES):
    """Draw the study pages' figures into `folder` (those already drawn from the same rows kept)."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    for name, (sources, draw) in STUDY_DRAWINGS.items():
        path = folder / f"{name}.png"
        if outdated(path, sources):
            draw(path)


# ---- the placeholders' syntax, for the site's build and the README ----

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\((.*?)\)\s*\}\}")


def expand(markdown: str) -> str:
    """Replace every placeholder by what its function returns; an unknown one is an error."""

    def replace(match):
        name, arguments = match.group(1), match.group(2)
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{{ {name}(...) }}}}")
        args = ast.literal_eval(f"({arguments},)") if arguments.strip() else ()
        return PLACEHOLDERS[name](*args)

    return PLACEHOLDER.sub(replace, markdown)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readme", action="store_true", help="rewrite the README's generated block")
    parser.add_argument(
        "--expand", metavar="PAGE", help="print a page of docs/ with its placeholders replaced"
    )
    opts = parser.parse_args()
    if opts.expand:
        print(expand(Path(opts.expand).read_text()))
    if opts.readme:
        README.write_text(readme_with_table(README.read_text()))


README = ROOT / "README.md"
README_TABLE = ("<!-- generated: the table of every file -->", "<!-- end of the generated table -->")


def readme_with_table(text: str) -> str:
    """The README with its table of every file made anew from the rows, between its two markers."""
    start, end = README_TABLE
    before, rest = text.split(start)
    _, after = rest.split(end)
    return f"{before}{start}\n{overview(readme=True)}\n{end}{after}"


if __name__ == "__main__":
    main()
