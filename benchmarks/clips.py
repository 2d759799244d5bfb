"""Record a short clip of each trained agent for the README: `videos/<algorithm>-<env_id>.gif`.

    python benchmarks/clips.py --algorithms dqn reinforce --env-id CartPole-v1

Each algorithm trains with its defaults and `--capture-video` in a scratch directory; the first
episode of its final greedy evaluation is then cut to `--seconds`, scaled down and written as a
GIF small enough for the README (under 1 MB for CartPole at the default size).
"""

import argparse
import glob
import shutil
import subprocess
import sys
from pathlib import Path

from moviepy import VideoFileClip

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithms", nargs="+", default=["dqn"])
    parser.add_argument("--env-id", default="CartPole-v1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each clip")
    parser.add_argument("--width", type=int, default=240, help="width of each clip in pixels")
    parser.add_argument("--fps", type=int, default=15)
    opts = parser.parse_args()

    for algorithm in opts.algorithms:
        work_dir = ROOT / "benchmarks" / "work" / "clips" / algorithm
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        command = [sys.executable, str(ROOT / "algorithms" / f"{algorithm}.py"), "--env-id", opts.env_id]
        subprocess.run([*command, "--seed", str(opts.seed), "--capture-video"], cwd=work_dir, check=True)
        recording = sorted(glob.glob(str(work_dir / "videos" / "*-eval" / "*episode-0.mp4")))[0]
        out = ROOT / "videos" / f"{algorithm}-{opts.env_id}.gif"
        with VideoFileClip(recording) as clip:
            clip = clip.subclipped(0, min(opts.seconds, clip.duration)).resized(width=opts.width)
            clip.write_gif(str(out), fps=opts.fps, logger=None)
        print(f"{out.relative_to(ROOT)}: {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
