"""Tune an algorithm's hyper-parameters on an environment: Ray Tune runs the trials, Optuna picks them.

    pip install -e ".[sweep]"
    python benchmarks/tune.py --algorithm dqn --env-id LunarLander-v3 --seeds 1 2 3 4 5 --trials 16
    python benchmarks/report.py   # the study's table and plot, in benchmarks/work/RESULTS.md

A trial is one setting of the hyper-parameters in SEARCH_SPACES (flags of the algorithm file),
which Optuna's TPE sampler draws in the light of the trials before it. The trial runs the file on
each of `--seeds` in turn, exactly as benchmarks/run.py runs it (a process of its own, with the
environment's settings from run.py's HYPERPARAMETERS and what follows `--`, the trial's values in
place of theirs), with a greedy evaluation every `--eval-frequency` steps. Its objective, `score`,
is the *worst* of the seeds' final greedy evaluations (10 episodes each), clipped at the env's
threshold (`--objective mean`: their mean): a setting is as good as the seed it fails, and every
setting that solves each seed is as good as the next; the trials that tie are then ranked by mean.
Two seeds and their mean are cheap but blind to a failure one seed in five has (docs/studies/lunarlander-tuning.md,
the first LunarLander study).

Bad trials stop early (ASHA). A trial reports each evaluation as its run logs it, at `env_steps`,
the steps of its finished runs counted as whole budgets plus the steps of the run under way, and
its `score` there (`running_score`): the evaluation just logged while no seed has finished, then
the objective of the finished seeds' finals. At env_steps of half a budget, one, two, four…, a
trial whose score is in the lower half of those the other trials had there stops.

Written: one JSON line per trial to --out as the trial ends (its settings, each seed's final
evaluation, the score, whether it was stopped early, the finished runs' rows as run.py writes
them); printed: the trials best first and the command line that reproduces the best. Each trial's
runs keep their logs in the trial's directory under --storage-path.

A study of five seeds a trial runs for hours. Cut short (Ctrl-C, a session's end), it goes on with
`--resume <the study's directory>` (printed when it starts): the trials it finished stay written,
the others go on from the last seed they finished, the sampler and ASHA where they were.

On a cluster, from the head node, with a storage path every node can write (NFS, or s3://…):

    RAY_worker_niceness=0 ray start --head   # the others: the same with --address HEAD:6379
    python benchmarks/tune.py --address auto --storage-path /shared/tune --algorithm dqn ...
"""

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import optuna
import ray.cloudpickle
import run
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch
from run import HYPERPARAMETERS, ROOT, THRESHOLDS, command_line, flags, machine, run_one, start_ray

# What Optuna may choose, per algorithm: flags of the algorithm file and their ranges.
DQN_SPACE = {
    "--learning-rate": tune.loguniform(1e-4, 2e-3),
    "--tau": tune.loguniform(1e-3, 3e-2),
    "--exploration-fraction": tune.uniform(0.01, 0.2),
    "--batch-size": tune.choice([64, 128, 256]),
    "--gamma": tune.choice([0.99, 0.995]),
    "--huber-delta": tune.loguniform(1, 100),  # c51 has no Huber loss: its space leaves it out
}
SEARCH_SPACES = {name: DQN_SPACE for name in ("dqn", "double_dqn", "dueling_dqn", "per_dqn")}
SEARCH_SPACES["c51"] = {flag: space for flag, space in DQN_SPACE.items() if flag != "--huber-delta"}
OBJECTIVES = ("worst", "mean")


def score(finals: list[float], objective: str, threshold: float) -> float:
    """A trial's score from its seeds' final greedy evaluations (so far). The worst seed's is clipped
    at the env's threshold: a setting that has solved every seed so far has done what is asked, and
    ranking such settings by how far above it their worst seed landed ranks noise (it stopped good
    trials: docs/studies/lunarlander-tuning.md, dqn_LunarLander-v3_5seeds). ASHA stops only a trial strictly below a rung's
    cutoff, so those tie at the threshold and go on."""
    if objective == "mean":
        return float(np.mean(finals))
    return float(min(min(finals), threshold))


def running_score(finals: list[float], evaluation: float, objective: str, threshold: float) -> float:
    """A trial's score at an evaluation of its run under way. Until a seed has finished, that
    evaluation is all there is to judge by; after, the finished seeds' finals alone: an evaluation
    early in a later seed's run says nothing of its final, and counted as one it stopped two trials
    that had solved their first seed, 80 and 110 s into the trial, at ASHA's first rung
    (docs/studies/lunarlander-tuning.md, dqn_LunarLander-v3_clipped)."""
    return score(finals or [evaluation], objective, threshold)


# The trials' processes import nothing from benchmarks/: run.py's functions travel with the trial.
ray.cloudpickle.register_pickle_by_value(run)


def evaluations(log: Path) -> list[tuple[int, float]]:
    """The (step, mean return) of every greedy evaluation a run has printed so far."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        if "greedy evaluation" in line:  # "step    25,000  greedy evaluation 123.4 ± 5.6"
            words = line.split()
            found.append((int(words[1].replace(",", "")), float(words[4])))
    return found


def trial(
    config: dict,
    algorithm: str,
    env_id: str,
    seeds: list[int],
    settings: list[str],
    budget: int,
    objective: str,
    threshold: float,
):
    """One trial: the algorithm with the settings in `config` on each seed in turn, its evaluations
    reported to Tune as the runs log them, and its finished seeds kept in a checkpoint."""
    root = Path.cwd()  # the copy of the repository that Ray unpacked for this trial
    trial_dir = Path(tune.get_context().get_trial_dir())
    command = command_line(flags(settings) | {flag: str(value) for flag, value in config.items()})
    finals, rows = [], []
    if checkpoint := tune.get_checkpoint():  # a resumed study: this trial had finished these seeds
        with checkpoint.as_directory() as directory:
            finals, rows = json.loads((Path(directory) / "seeds.json").read_text())
    for done, seed in enumerate(seeds):
        if done < len(finals):
            continue
        work_dir = trial_dir / f"seed_{seed}"
        with ThreadPoolExecutor(1) as pool:
            launched = pool.submit(run_one, algorithm, env_id, seed, command, work_dir, root)
            reported = 0
            while True:
                finished = launched.done()  # before reading the log, so that its last lines are read
                logged = evaluations(work_dir / "output.log")
                for step, mean_return in logged[reported:]:
                    # one at the budget's end is the run's final evaluation, reported with the run
                    if step < budget:
                        tune.report(
                            {
                                "score": running_score(finals, mean_return, objective, threshold),
                                "env_steps": done * budget + step,
                                "finals": finals,
                            }
                        )
                reported = len(logged)
                if finished:
                    break
                time.sleep(1.0)
        row = launched.result()
        if row["returncode"] != 0:
            raise RuntimeError(f"seed {seed}: {row['error'].strip().splitlines()[-1]}")
        finals.append(row["eval_mean"])
        rows.append(row | {"machine": machine(1)})
        # a finished run counts as its whole budget, however early it was solved; its row travels in
        # the checkpoint, which Tune's loggers leave alone (they would try to chart a list of dicts)
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / "seeds.json").write_text(json.dumps([finals, rows]))
            tune.report(
                {
                    "score": score(finals, objective, threshold),
                    "env_steps": (done + 1) * budget,
                    "finals": finals,
                },
                checkpoint=tune.Checkpoint.from_directory(directory),
            )


class WriteTrials(tune.Callback):
    """Appends each trial to `out` as it ends, finished or stopped early, so that a study cut short
    keeps what it has learned."""

    def __init__(self, out: Path, fields: dict):
        self.out, self.fields = out, fields

    def on_trial_complete(self, iteration: int, trials: list, trial, **info):
        last = trial.last_result
        runs = []
        if trial.checkpoint is not None:
            with trial.checkpoint.as_directory() as directory:
                runs = json.loads((Path(directory) / "seeds.json").read_text())[1]
        row = self.fields | {
            "config": trial.config,
            "score": float(last["score"]),
            "finals": last["finals"],
            "stopped_early": len(last["finals"]) < len(self.fields["seeds"]),
            "env_steps": int(last["env_steps"]),
            "seconds": round(float(last["time_total_s"]), 1),
            "runs": runs,
        }
        with open(self.out, "a") as f:
            f.write(json.dumps(row) + "\n")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithm", default="dqn", choices=sorted(SEARCH_SPACES))
    parser.add_argument("--env-id", default="CartPole-v1")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--trials", type=int, default=16, help="how many settings to try")
    parser.add_argument(
        "--eval-frequency", type=int, help="steps between evaluations (default: a tenth of the budget)"
    )
    parser.add_argument("--sampler-seed", type=int, default=0, help="the seed of Optuna's sampler")
    parser.add_argument("--address", help="the Ray cluster's address (default: RAY_ADDRESS, or a local Ray)")
    parser.add_argument(
        "--storage-path",
        default=str(ROOT / "benchmarks" / "work" / "tune"),
        help="where Tune keeps the trials' files; on a cluster, a path every node can write",
    )
    parser.add_argument("--out", help="default: benchmarks/results/tune/<algorithm>_<env-id>.jsonl")
    parser.add_argument("--objective", default="worst", choices=OBJECTIVES, help="of the seeds' finals")
    parser.add_argument(
        "--resume", metavar="STUDY_DIR", help="go on with the study cut short there (with its own arguments)"
    )
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --: arguments passed to every run")
    opts = parser.parse_args()
    study = Path(opts.resume).resolve() if opts.resume else None  # Tune restores from an absolute path
    if study:
        if not (study / "tune.json").exists():
            parser.error(f"--resume {study}: no study of tune.py there (it has no tune.json)")
        opts = parser.parse_args(json.loads((study / "tune.json").read_text()))
    extra = opts.extra[1:] if opts.extra[:1] == ["--"] else opts.extra
    settings = command_line(flags(HYPERPARAMETERS.get((opts.algorithm, opts.env_id), []) + extra))
    if "--total-timesteps" not in settings:
        parser.error(f"run.py has no budget for {opts.algorithm} on {opts.env_id}: give one after --")
    budget = int(flags(settings)["--total-timesteps"])
    eval_frequency = opts.eval_frequency or budget // 10
    settings += ["--eval-frequency", str(eval_frequency)]
    out = Path(opts.out or ROOT / "benchmarks" / "results" / "tune" / f"{opts.algorithm}_{opts.env_id}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)

    start_ray(opts.address)
    # Tune would start each trial in a directory of its own; with this, a trial starts in the copy of
    # the repository that Ray unpacked, from which it launches its runs
    os.environ["RAY_CHDIR_TO_TRIAL_DIR"] = "0"
    trainable = tune.with_resources(  # a run uses one thread (torch.set_num_threads(1))
        tune.with_parameters(
            trial,
            algorithm=opts.algorithm,
            env_id=opts.env_id,
            seeds=opts.seeds,
            settings=settings,
            budget=budget,
            objective=opts.objective,
            threshold=THRESHOLDS.get(opts.env_id, float("inf")),
        ),
        {"cpu": 1},
    )
    if study:
        tuner = tune.Tuner.restore(str(study), trainable, resume_unfinished=True, resume_errored=True)
    else:
        study = Path(opts.storage_path) / f"{opts.algorithm}_{opts.env_id}_{time.strftime('%Y%m%d-%H%M%S')}"
        study.mkdir(parents=True)
        (study / "tune.json").write_text(json.dumps(sys.argv[1:]))
        fields = {
            "algorithm": opts.algorithm,
            "env_id": opts.env_id,
            "seeds": opts.seeds,
            "settings": " ".join(settings),
            "objective": opts.objective,
            "study": study.name,
            "command": " ".join(["python benchmarks/tune.py", *sys.argv[1:]]),
        }
        tuner = tune.Tuner(
            trainable,
            param_space=SEARCH_SPACES[opts.algorithm],
            tune_config=tune.TuneConfig(
                metric="score",
                mode="max",
                search_alg=OptunaSearch(sampler=optuna.samplers.TPESampler(seed=opts.sampler_seed)),
                scheduler=ASHAScheduler(
                    time_attr="env_steps",
                    max_t=budget * len(opts.seeds),
                    grace_period=budget // 2,
                    reduction_factor=2,
                ),
                num_samples=opts.trials,
            ),
            run_config=tune.RunConfig(
                name=study.name,
                storage_path=opts.storage_path,
                callbacks=[WriteTrials(out, fields)],
                verbose=1,
            ),
        )
    print(f"the study's directory, to go on with it if it is cut short: --resume {study}")
    for result in tuner.fit():
        if result.error:
            print(f"trial {result.path}: {result.error}")

    written = out.read_text().splitlines() if out.exists() else []
    trials = [row for line in written if (row := json.loads(line)).get("study") == study.name]
    # the finished first, by score, then (the worst seed's clipped score ties) by the seeds' mean
    trials.sort(
        key=lambda row: (not row["stopped_early"], row["score"], np.mean(row["finals"] or [-np.inf])),
        reverse=True,
    )
    print(f"\n{len(trials)} trials (best first), written to {out}:")
    for row in trials:
        chosen = "  ".join(f"{flag} {value:.4g}" for flag, value in row["config"].items())
        state = "stopped early" if row["stopped_early"] else "finished"
        print(f"  score {row['score']:8.1f}  {state:<13}  {chosen}")
    if trials and not trials[0]["stopped_early"]:
        best = command_line(
            flags(settings) | {flag: f"{value:.4g}" for flag, value in trials[0]["config"].items()}
        )
        print(
            f"\nthe best, as a command:\n  python algorithms/{opts.algorithm}.py --env-id {opts.env_id} {' '.join(best)}"
        )


if __name__ == "__main__":
    main()
