"""dqn_jax.py beside dqn.py: five agents to solved, and how the cost grows with the number of agents.

    python benchmarks/jax_scaling.py           # runs both, appends to results/dqn_jax.jsonl, prints the tables
    python benchmarks/jax_scaling.py --report  # only prints the tables of what is there
    python benchmarks/jax_scaling.py --no-cost # only the to-solved rounds

Each command is launched as a user launches it, one at a time (dqn_jax.py spreads its agents over
every core, so nothing runs beside it), and timed as a whole process: imports and compilation
included. Two measurements:

- to solved: `dqn_jax.py --num-seeds 5` (the agents of seeds 1-5, each stopping once solved; the
  process ends when all are, or at the budget) beside `dqn.py --seed s`, s = 1…5, each until solved.
  dqn.py's figure is the one in the README: seconds from launch until its training returns reach 475.
- cost: `dqn_jax.py --num-seeds N --no-stop-when-solved --total-timesteps 20000`, N = 1, 5, 25, 100,
  beside dqn.py with the same fixed budget, run for 5 seeds: N seeds of it cost N times their median.
"""

import argparse
import json
import sys
from importlib.metadata import version

import numpy as np
from run import ROOT, THRESHOLDS, launch, machine, read_run, run_one

OUT = ROOT / "benchmarks" / "results" / "dqn_jax.jsonl"
WORK = ROOT / "benchmarks" / "work" / "dqn_jax"
FIXED_BUDGET = ["--no-stop-when-solved", "--total-timesteps", "20000"]


def run_dqn_jax(num_seeds: int, settings: list[str]) -> dict:
    """Launch dqn_jax.py once for `num_seeds` agents, wait for it, and read each agent's run."""
    command = [sys.executable, str(ROOT / "algorithms" / "dqn_jax.py"), "--num-seeds", str(num_seeds)]
    figures, launched = launch(command + settings, WORK)
    result = {"algorithm": "dqn_jax", "num_seeds": num_seeds, "settings": " ".join(settings)} | figures
    if result["returncode"] != 0:
        return result | {"error": (WORK / "output.log").read_text()[-2000:]}
    agents = [
        read_run(str(run_dir), launched, THRESHOLDS["CartPole-v1"])
        for run_dir in sorted((WORK / "runs").iterdir(), key=lambda path: int(path.name.split("__")[2]))
    ]
    for agent in agents:
        del agent["curve"], agent["values"]
    return result | {"agents": agents}


def measure(opts):
    def record(row):
        row |= {
            "kind": kind,
            "machine": machine(1) | {"jax": version("jax")},
            "command": "python benchmarks/jax_scaling.py",
        }
        with open(OUT, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(
            kind,
            row["algorithm"],
            row.get("num_seeds", row.get("seed")),
            row["wall_seconds"],
            "s",
            flush=True,
        )

    kind = "to_solved"
    for _ in range(opts.repeats):
        record(run_dqn_jax(5, []))
        for seed in range(1, 6):
            record(run_one("dqn", "CartPole-v1", seed, [], WORK / "dqn"))
    if opts.no_cost:
        return
    kind = "cost"
    for seed in range(1, 6):
        record(run_one("dqn", "CartPole-v1", seed, FIXED_BUDGET, WORK / "dqn"))
    for num_seeds in (1, 5, 25, 100):
        record(run_dqn_jax(num_seeds, FIXED_BUDGET))


def tables(rows: list[dict]) -> list[str]:
    """The two tables, as markdown lines (report.py puts them into its report)."""
    m = rows[0]["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, jax {m['jax']}, "
        f"gymnasium {m['gymnasium']}, Python {m['python']}; one process at a time.",
        "",
        "To solved: `dqn_jax.py --num-seeds 5`, the whole process, beside `dqn.py --seed s` for s = 1…5, "
        "seconds from launch until its training returns reach 475 (the five runs that followed it).",
        "",
        "| round | dqn_jax.py, 5 agents: seconds | agents ≥ 475 greedy | dqn.py: median seconds to 475 | ratio |",
        "|---|---|---|---|---|",
    ]
    solved = [row for row in rows if row["kind"] == "to_solved"]
    jax_runs = [row for row in solved if row["algorithm"] == "dqn_jax"]
    dqn_runs = [row for row in solved if row["algorithm"] == "dqn"]
    for i, row in enumerate(jax_runs):
        dqn_median = np.median([r["solved_seconds"] or np.inf for r in dqn_runs[5 * i : 5 * i + 5]])
        greedy = [round(agent["eval_mean"], 1) for agent in row["agents"]]
        passed = sum(value >= 475 for value in greedy)
        lines.append(
            f"| {i + 1} | {row['wall_seconds']:.1f} | {passed}/5: {greedy} | {dqn_median:.1f} | "
            f"{row['wall_seconds'] / dqn_median:.2f}× |"
        )
    cost = [row for row in rows if row["kind"] == "cost"]
    per_seed = np.median([row["wall_seconds"] for row in cost if row["algorithm"] == "dqn"])
    lines += [
        "",
        f"Cost: {int(FIXED_BUDGET[-1]):,} steps per agent, no stop, the whole process; dqn.py once per seed: "
        f"N × the median of its 5 runs ({per_seed:.1f} s).",
        "",
        "| agents | dqn_jax.py: seconds | steps/s per agent | dqn.py once per seed: seconds | dqn.py / dqn_jax.py | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    for row in (row for row in cost if row["algorithm"] == "dqn_jax"):
        n, seconds = row["num_seeds"], row["wall_seconds"]
        lines.append(
            f"| {n} | {seconds:.1f} | {int(FIXED_BUDGET[-1]) / seconds:,.0f} | {n * per_seed:.1f} | "
            f"{n * per_seed / seconds:.1f}× | {row['peak_memory_mb']:.0f} MiB |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--report", action="store_true", help="only print the tables of what is there")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the to-solved comparison")
    parser.add_argument(
        "--no-cost",
        action="store_true",
        help="only the to-solved rounds (the cost at a fixed budget does not change with what is learned)",
    )
    opts = parser.parse_args()
    if not opts.report:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        measure(opts)
    print("\n".join(tables([json.loads(line) for line in OUT.read_text().splitlines()])))


if __name__ == "__main__":
    main()
