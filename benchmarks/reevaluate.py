"""Evaluate again, another way, the networks a sweep's runs saved: no run is trained twice.

    python benchmarks/reevaluate.py --sweep dqn_atari_minatar --eval-epsilon 0.1 --eval-episodes 100

The pixel files' runs keep their final network in their work directory (run.py's KEEP_THE_MODEL). For each
row of `benchmarks/results/<sweep>.jsonl` whose network is there, this plays it as a user would, with the
file's own `--evaluate` (the starts of the run's own final evaluation, every other argument the checkpoint's),
at the ε and for the episodes given, and appends one row to `benchmarks/results/reevaluated/<sweep>.jsonl`:
the run's algorithm, task, seed and settings, the ε and the episodes' returns. Rows already there are
skipped. The MinAtar paper's curves are of training episodes at its ε = 0.1: evaluating each final network
at ε = 0.1 over 100 episodes sets it beside them like for like.
"""

import argparse
import glob
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"  # run.py's work directories, one per run
PLAYED = re.compile(r"episode by episode: (.*)$", re.MULTILINE)


def saved_network(sweep: str, row: dict) -> str | None:
    """The network a run of the sweep saved, where its work directory still holds it."""
    work_dir = WORK / sweep / f"{row['algorithm']}__{row['env_id'].replace('/', '-')}__{row['seed']}"
    found = glob.glob(str(work_dir / "runs" / "*" / f"{row['algorithm']}.pt"))
    return found[0] if found else None


def evaluate(row: dict, model: str, epsilon: float, episodes: int) -> list[float]:
    """The returns of `episodes` episodes of the saved network, played by its own file's --evaluate."""
    command = [sys.executable, str(ROOT / "algorithms" / f"{row['algorithm']}.py"), "--evaluate", model]
    command += ["--eval-epsilon", str(epsilon), "--eval-episodes", str(episodes)]
    out = subprocess.run(command, capture_output=True, text=True, cwd="/tmp", check=True).stdout
    return [float(value) for value in PLAYED.search(out).group(1).split(", ")]


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sweep", required=True, help="the sweep, as benchmarks/results/<sweep>.jsonl names it"
    )
    parser.add_argument("--eval-epsilon", type=float, default=0.1, help="the probability of a random action")
    parser.add_argument("--eval-episodes", type=int, default=100, help="the episodes of each evaluation")
    opts = parser.parse_args(argv)
    source, out = RESULTS / f"{opts.sweep}.jsonl", RESULTS / "reevaluated" / f"{opts.sweep}.jsonl"
    if not source.exists():
        parser.error(f"--sweep {opts.sweep}: no {source}")
    out.parent.mkdir(exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add(
                (r["algorithm"], r["env_id"], r["seed"], r["settings"], r["eval_epsilon"], r["eval_episodes"])
            )
    for line in source.read_text().splitlines():
        row = json.loads(line)
        key = (
            row["algorithm"],
            row["env_id"],
            row["seed"],
            row["settings"],
            opts.eval_epsilon,
            opts.eval_episodes,
        )
        model = saved_network(opts.sweep, row)
        if row["returncode"] != 0 or key in done or model is None:
            continue
        returns = evaluate(row, model, opts.eval_epsilon, opts.eval_episodes)
        result = dict(zip(("algorithm", "env_id", "seed", "settings", "eval_epsilon", "eval_episodes"), key))
        result |= {"returns": returns, "mean": sum(returns) / len(returns)}
        with open(out, "a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{row['algorithm']} {row['env_id']} seed {row['seed']}: {result['mean']:.1f}", flush=True)


if __name__ == "__main__":
    main()
