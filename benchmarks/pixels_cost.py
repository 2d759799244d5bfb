"""What a step of the pixel files costs, and where it goes; what a million Atari frames take in memory.

    python benchmarks/pixels_cost.py                    # writes benchmarks/results/pixels_cost.json
    python benchmarks/pixels_cost.py --files pqn_atari  # measures one file again, keeping the others'

Each measurement runs in a process of its own, one at a time:

- for each pixel file on MinAtar's Breakout and on Atari's: a short run in-process, its
  settings those of run.py for MinAtar and the defaults on Atari (learning from the start), with the
  vector env's `step` and the network's calls on one batch of observations (acting) timed as they
  happen; the rest of a step's time is the update (sampling, the forward and backward passes, Adam)
  and the loop's own bookkeeping;
- dqn_atari.py's replay buffer of a million transitions, filled with Breakout-sized frames through
  `add`, then sampled from: the process's peak resident memory, from the kernel.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "benchmarks" / "results" / "pixels_cost.json"
FILES = ("dqn_atari", "ppo_atari", "pqn_atari")
STEPS = {"MinAtar/Breakout-v1": 20_000, "ALE/Breakout-v5": 3_000}
# pqn_atari's Atari rollouts are 128 envs × 32 steps: two of them
AT_LEAST = {("pqn_atari", "ALE/Breakout-v5"): 8_192}


def load(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "algorithms" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def step_cost(name: str, env_id: str) -> dict:
    """A short run of `name` on `env_id`, its seconds split into the environment, acting, and the rest."""
    import gymnasium as gym
    import run

    algorithm = load(name)
    spent = {"environment": 0.0, "acting": 0.0}
    real_step = gym.vector.SyncVectorEnv.step

    def timed_step(self, actions):
        start = time.perf_counter()
        result = real_step(self, actions)
        spent["environment"] += time.perf_counter() - start
        return result

    gym.vector.SyncVectorEnv.step = timed_step
    network = algorithm.ActorCritic if name == "ppo_atari" else algorithm.QNetwork
    real_forward = network.forward

    def timed_forward(self, x):  # acting: the training envs' batch, outside any gradient
        start = time.perf_counter()
        result = real_forward(self, x)
        if not algorithm.torch.is_grad_enabled() and len(x) == args.num_envs:
            spent["acting"] += time.perf_counter() - start
        return result

    network.forward = timed_forward
    args = run.args_of(algorithm, env_id, eval_episodes=1)
    args.total_timesteps = AT_LEAST.get((name, env_id), STEPS[env_id])
    if name == "dqn_atari":  # learning from the start, with a buffer the short run fills
        args.learning_starts, args.buffer_size = 1_000, 100_000
    start = time.perf_counter()
    algorithm.train(args)
    total = time.perf_counter() - start
    return {
        "file": name,
        "env_id": env_id,
        "steps": args.total_timesteps,
        "seconds": round(total, 2),
        "steps_per_second": round(args.total_timesteps / total, 1),
        "environment": round(spent["environment"] / total, 3),
        "acting": round(spent["acting"] / total, 3),
        "update_and_rest": round(1 - (spent["environment"] + spent["acting"]) / total, 3),
    }


def buffer_memory() -> dict:
    """Peak resident memory of a process whose dqn_atari buffer holds a million Breakout transitions."""
    import numpy as np
    import torch

    algorithm = load("dqn_atari")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rb = algorithm.ReplayBuffer(1_000_000, 1, (4, 84, 84), 4, np.uint8, torch.device("cpu"), seed=0)
    frame = np.random.default_rng(0).integers(0, 256, (1, 4, 84, 84), dtype=np.uint8)
    rb.begin(frame)
    done, reset, action, reward = (
        np.zeros(1),
        np.zeros(1, dtype=bool),
        np.zeros(1, dtype=np.int64),
        np.zeros(1),
    )
    for _ in range(1_000_000):
        rb.add(frame, action, reward, done, reset)
    batch = list(rb.sample(32))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "transitions": 1_000_000,
        "frames_bytes": int(rb.frames.nbytes),
        "peak_memory_mb": round(peak, 1),
        "before_buffer_mb": round(before, 1),
        "batch_shape": list(batch[0].shape),
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--one", nargs="*", help=argparse.SUPPRESS)  # a measurement, in its own process
    parser.add_argument(
        "--files", nargs="+", choices=FILES, default=FILES, help="the files to measure (default: all)"
    )
    opts = parser.parse_args()
    if opts.one is not None:
        result = buffer_memory() if opts.one == ["buffer"] else step_cost(*opts.one)
        print(json.dumps(result))
        return
    results = json.loads(OUT.read_text()) if OUT.exists() else {"steps": [], "buffer": None}
    results["steps"] = [m for m in results["steps"] if m["file"] not in opts.files]  # the others' kept
    for name in opts.files:
        for env_id in STEPS:
            out = subprocess.run(
                [sys.executable, __file__, "--one", name, env_id], capture_output=True, text=True, cwd="/tmp"
            )
            results["steps"].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(results["steps"][-1], flush=True)
    if "dqn_atari" in opts.files:
        out = subprocess.run([sys.executable, __file__, "--one", "buffer"], capture_output=True, text=True)
        results["buffer"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(results["buffer"])
    OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
