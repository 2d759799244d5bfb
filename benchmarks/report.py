"""Turn the JSON lines written by run.py into a report of your own sweeps, with learning-curve plots.

    python benchmarks/report.py [results.jsonl ...] [--out benchmarks/work/RESULTS.md]

The site's pages (`benchmarks/pages.py`) are where the committed sweeps are reported; this writes a quick
report of any rows, yours included, into the working folder (not committed), its plots beside it.

One section per results file (a sweep: one command, one machine), opened by the hand-written
notes of `<sweep>.md` beside it where there are any. In it, per environment, one row per
algorithm (and hyper-parameter set): seeds solved out of seeds run (the last 10 training returns
reached the threshold and the final greedy evaluation averages at least as much), median and
range of the environment steps and of the seconds from launch until the mean of the last 10
training returns reached the threshold, the median seconds over every seed with the unsolved
ranked last, the final greedy evaluation (mean ± std of the per-seed means), steps per second
and peak memory. The plots (with matplotlib, an optional extra:
`pip install -e ".[bench]"`) show, per environment, the median across seeds of that same running
mean with the range between the lowest and highest seed shaded, once against environment steps
and once against wall-clock seconds; where runs evaluated along the way, a third plot shows the
value predicted for the first state less the discounted return that followed.
"""

import argparse
import json
import os
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent


def reading_order(algorithm: str) -> int:
    """Rows and curves in the README's order: dqn.py, its variants, the policy gradients, then the files
    for continuous actions alone."""
    dqn_family = ["dqn", "double_dqn", "dueling_dqn", "per_dqn", "noisy_dqn", "c51", "rainbow"]
    order = dqn_family + ["reinforce", "actor_critic", "a2c", "a3c", "ppo", "ddpg", "td3", "sac"]
    return order.index(algorithm) if algorithm in order else len(order)


def median_range(values, fmt="{:,.0f}"):
    if not values:
        return "–"
    return f"{fmt.format(np.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def solved(r: dict, threshold: float | None) -> bool:
    """The project's definition: the last 10 training returns reached the threshold, and the final
    greedy evaluation averages at least the threshold too."""
    return r["returncode"] == 0 and r["solved_step"] is not None and r["eval_mean"] >= threshold


def median_over_all(runs: list[dict], threshold: float | None) -> str:
    """The median seconds to solve over every seed, the unsolved ones ranked last: 'never' when
    half of the seeds or more did not solve."""
    seconds = sorted(r["solved_seconds"] if solved(r, threshold) else np.inf for r in runs)
    median = np.median(seconds)
    return "never" if np.isinf(median) else f"{median:.1f}"


def table(results: list[dict], threshold: float | None) -> list[str]:
    lines = [
        "| algorithm | solved | steps to threshold | seconds to threshold | median s, all seeds "
        "| final greedy eval | SPS | peak MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = defaultdict(list)
    for r in results:
        rows[(r["algorithm"], r["settings"])].append(r)
    for (algorithm, args), runs in sorted(rows.items(), key=lambda row: reading_order(row[0][0])):
        ok = [r for r in runs if r["returncode"] == 0]
        done = [r for r in ok if solved(r, threshold)]
        evals = [r["eval_mean"] for r in ok]
        name = f"{algorithm} `{args}`" if args else algorithm
        lines.append(
            f"| {name} | {len(done)}/{len(runs)} "
            f"| {median_range([r['solved_step'] for r in done])} "
            f"| {median_range([r['solved_seconds'] for r in done], '{:.1f}')} "
            f"| {median_over_all(runs, threshold)} "
            f"| {np.mean(evals):.1f} ± {np.std(evals):.1f} "
            f"| {np.median([r['sps'] for r in ok]):,.0f} "
            f"| {np.median([r['peak_memory_mb'] for r in ok]):,.0f} |"
        )
    return lines


def running_mean_curves(runs: list[dict], column: int, grid: np.ndarray) -> np.ndarray:
    """Each run's mean of the last 10 training returns, sampled on `grid` (steps or seconds). A run
    that ended (most stop once solved) keeps its last value, so the median stays over every seed."""
    curves = []
    for r in runs:
        curve = np.array(r["curve"])
        returns = curve[:, 2]
        last_10 = np.array([returns[max(0, i - 9) : i + 1].mean() for i in range(len(returns))])
        curves.append(np.interp(grid, curve[:, column], last_10, left=np.nan, right=last_10[-1]))
    return np.array(curves)


def plot(env_id: str, results: list[dict], threshold: float | None, out_dir: Path, sweep: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = defaultdict(list)
    for r in results:
        if r["returncode"] == 0:
            rows[f"{r['algorithm']} {r['settings']}"[:60].strip()].append(r)
    paths = []
    for column, label in ((0, "environment steps"), (1, "seconds from launch")):
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, runs in sorted(rows.items(), key=lambda row: reading_order(row[1][0]["algorithm"])):
            end = max(r["curve"][-1][column] for r in runs)
            grid = np.linspace(0, end, 200)
            curves = running_mean_curves(runs, column, grid)
            with warnings.catch_warnings():  # where no seed's curve reaches, the median is nan: no line
                warnings.simplefilter("ignore", RuntimeWarning)
                (line,) = ax.plot(grid, np.nanmedian(curves, axis=0), label=f"{name} ({len(runs)} seeds)")
                ax.fill_between(
                    grid,
                    np.nanmin(curves, axis=0),
                    np.nanmax(curves, axis=0),
                    alpha=0.2,
                    color=line.get_color(),
                )
        if threshold is not None:
            ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel(label)
        ax.set_ylabel("mean of the last 10 training returns")
        ax.set_title(env_id)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{sweep}_{env_id}_{'steps' if column == 0 else 'seconds'}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_values(env_id: str, results: list[dict], out_dir: Path, sweep: str) -> Path | None:
    """Per algorithm, the overestimation along the run: the value predicted for the first state of
    the evaluation episodes, max_a Q(s₀, a), less the discounted return that actually followed;
    the median across seeds, with the range between the lowest and highest seed shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = defaultdict(list)
    for r in results:
        if r["returncode"] == 0 and len(r.get("values", [])) > 1:  # evaluations along the run
            rows[r["algorithm"]].append(np.array(r["values"]))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in sorted(rows.items(), key=lambda row: reading_order(row[0])):
        length = min(len(v) for v in runs)
        values = np.stack([v[:length] for v in runs])
        steps, gaps = values[0, :, 0], values[:, :, 1] - values[:, :, 2]
        (line,) = ax.plot(steps, np.median(gaps, axis=0), label=f"{name} ({len(runs)} seeds)")
        ax.fill_between(steps, gaps.min(axis=0), gaps.max(axis=0), alpha=0.2, color=line.get_color())
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    # early evaluations of an untrained policy miss by hundreds; later ones by tens
    ax.set_yscale("symlog", linthresh=20)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("max Q(s₀, a) − discounted return obtained")
    ax.set_title(f"{env_id}: overestimation (linear within ±20, logarithmic beyond)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{sweep}_{env_id}_values.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def study(name: str, trials: list[dict], out_dir: Path | None) -> list[str]:
    """A tuning study written by tune.py: its trials best first (the finished before those stopped
    early), and a plot of each hyper-parameter against the objective."""
    # the finished first, by score, then by the seeds' mean (the worst seed's score, clipped, ties)
    trials = sorted(
        trials,
        key=lambda t: (not t["stopped_early"], t["score"], np.mean(t["finals"] or [-np.inf])),
        reverse=True,
    )
    searched = list(trials[0]["config"])
    seeds = trials[0]["seeds"]
    lines = [
        f"| {' | '.join(f'`{flag}`' for flag in searched)} | final greedy eval, seeds {seeds} | score | trial |",
        "|" + "---|" * (len(searched) + 3),
    ]
    for t in trials:
        values = " | ".join(f"{t['config'][flag]:.4g}" for flag in searched)
        finals = ", ".join(f"{f:.1f}" for f in t["finals"]) or "–"
        state = f"stopped at {t['env_steps']:,} steps" if t["stopped_early"] else "finished"
        lines.append(f"| {values} | {finals} | {t['score']:.1f} | {state} |")
    if out_dir is None:
        return lines
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a trial that falls apart scores hundreds below zero: drawn at a floor, the good ones stay legible
    floor = -300
    fig, axes = plt.subplots(1, len(searched), figsize=(3 * len(searched), 3), sharey=True)
    for ax, flag in zip(np.atleast_1d(axes), searched):
        for stopped, marker in ((False, "o"), (True, "x")):
            chosen = [t for t in trials if t["stopped_early"] == stopped]
            label = "stopped early (score when stopped)" if stopped else "finished"
            scores = np.maximum([t["score"] for t in chosen], floor)
            ax.scatter([t["config"][flag] for t in chosen], scores, marker=marker, label=label)
        values = [t["config"][flag] for t in trials]
        if min(values) > 0 and max(values) / min(values) > 10:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(flag)
    # the first study (its rows name no objective) scored the mean of its seeds' finals, the second
    # the worst seed's, before tune.py clipped it at the threshold
    objective = {"mean": "mean", "worst-unclipped": "worst seed's", "worst": "worst seed's (≤ threshold)"}[
        trials[0].get("objective", "mean")
    ]
    np.atleast_1d(axes)[0].set_ylabel(
        f"score: {objective} final greedy eval\n(below {floor}: drawn at {floor})"
    )
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(f"{name}: {len(trials)} trials", fontsize=9)
    fig.tight_layout()
    figure = out_dir / f"tune_{name}.png"
    fig.savefig(figure, dpi=100)
    plt.close(fig)
    return lines + [
        f"\n![{name}: each trial's settings against its score]({figure.relative_to(out_dir.parent)})"
    ]


def main():
    from run import THRESHOLDS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "results", nargs="*", default=sorted(str(p) for p in (BENCHMARKS / "results").glob("*.jsonl"))
    )
    parser.add_argument("--out", default=str(BENCHMARKS / "work" / "RESULTS.md"))
    opts = parser.parse_args()
    out = Path(opts.out)
    plots = out.parent / "plots"
    try:
        import matplotlib  # noqa: F401

        plots.mkdir(parents=True, exist_ok=True)
    except ImportError:
        plots = None
        print("matplotlib is not installed (pip install -e '.[bench]'): writing tables only")

    lines = ["# Benchmark results", "", "Written by `python benchmarks/report.py`: one section per sweep."]
    for path in opts.results:
        results = [json.loads(line) for line in Path(path).read_text().splitlines()]
        sweep = Path(path).stem
        lines += [
            "",
            f"# {sweep}",
            "",
            f"`{os.path.relpath(path, BENCHMARKS.parent)}`, produced by:",
            "",
            "```",
        ]
        lines += sorted({r["command"] for r in results}) + ["```", ""]
        notes = Path(path).with_suffix(".md")  # what was learned from the sweep, written by hand
        if notes.exists():
            lines += [notes.read_text().strip(), ""]
        if "kind" in results[0]:  # not run.py's rows: benchmarks/jax_scaling.py's, with tables of their own
            from jax_scaling import tables

            lines += tables(results)
            continue
        for machine in sorted({json.dumps(r["machine"], sort_keys=True) for r in results}):
            m = json.loads(machine)
            lines.append(
                f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, gymnasium {m['gymnasium']}, "
                f"Python {m['python']}; runs at a time: {m['workers']}."
            )
        by_env = defaultdict(list)
        for r in results:
            by_env[r["env_id"]].append(r)
        for env_id, env_results in by_env.items():
            threshold = THRESHOLDS.get(env_id)
            lines += [
                "",
                f"## {env_id}",
                "",
                f"Solved: the mean of the last 10 training returns reached {threshold} and the final greedy "
                "evaluation (10 episodes) averages at least as much. Steps and seconds to the threshold: "
                "median (range) over the solved seeds; *median s, all seeds*: over every seed, the "
                "unsolved ranked last. Final greedy eval: mean ± std over seeds.",
                "",
            ]
            lines += table(env_results, threshold)
            if plots:
                figures = plot(env_id, env_results, threshold, plots, sweep)
                figures.append(plot_values(env_id, env_results, plots, sweep))
                lines += [f"\n![{env_id}]({figure.relative_to(out.parent)})" for figure in figures if figure]
    for path in sorted((BENCHMARKS / "results" / "tune").glob("*.jsonl")):
        trials = [json.loads(line) for line in path.read_text().splitlines()]
        lines += [
            "",
            f"# Tuning: {path.stem}",
            "",
            f"`{os.path.relpath(path, BENCHMARKS.parent)}`, produced by:",
            "",
            "```",
        ]
        lines += sorted({t["command"] for t in trials}) + ["```", ""]
        notes = path.with_suffix(".md")
        if notes.exists():
            lines += [notes.read_text().strip(), ""]
        lines += study(path.stem, trials, plots)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
