"""The tests of each algorithm file notice when a line of its algorithm breaks.

For every file, MUTATIONS lists one-line changes that a reviewer would call a bug. Each is applied to a
copy of algorithms/, and the file's default tests (conftest's `--only NAME`: tests/test_NAME.py and the
tests parametrized with NAME) run on the copy, stopping at the first failure: the mutation must make
them fail. A test of its own for each mutation, under -m slow, two at a time with -n 2:

    pytest -m slow tests/mutations.py -n 2

A change that the tests cannot notice because it makes no difference to what is learned is no bug, and
is not listed; NOT_BUGS says which were tried and why they are left out.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
ALGORITHMS_DIR = TESTS_DIR.parent / "algorithms"

# file: [(what the mutation breaks, the line as it is, the line broken)]; the line must occur once in the file
MUTATIONS = {
    "dqn": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the online network where the target network belongs",
            "next_q = target_network(b_next_obs).max(dim=1).values",
            "next_q = q_network(b_next_obs).max(dim=1).values",
        ),
        (
            "γ² where γ belongs",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma**2 * (1 - b_terminations) * next_q",
        ),
        (
            "the step that only resets the env stored as a transition",
            "keep = ~autoreset",
            "keep = np.ones_like(autoreset)",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], terminations[keep])",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], (terminations | truncations)[keep])",
        ),
        (
            "the Polyak average the wrong way round: θ⁻ ← (1 − τ) θ + τ θ⁻",
            "target_param.lerp_(param, args.tau)",
            "target_param.lerp_(param, 1 - args.tau)",
        ),
        (
            "the squared error where the Huber loss belongs",
            "loss = F.smooth_l1_loss(q_taken, td_target)",
            "loss = F.mse_loss(q_taken, td_target)",
        ),
        (
            "gradients of earlier updates left to add up",
            "            optimizer.zero_grad()\n",
            "",
        ),
    ],
}

# Changes tried and left out, because they make no difference to what is learned: (file, change, why).
NOT_BUGS = [
    (
        "dqn",
        "F.smooth_l1_loss(td_target, q_taken), the arguments swapped",
        "the Huber loss is symmetric, and td_target carries no gradient: the same loss and gradient",
    ),
]


def mutated_copy(name: str, line: str, broken: str, folder: Path) -> Path:
    source = (ALGORITHMS_DIR / f"{name}.py").read_text()
    assert source.count(line) == 1, f"{name}.py holds {source.count(line)} copies of {line!r}, not one"
    copy = folder / "algorithms"
    shutil.copytree(ALGORITHMS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / f"{name}.py").write_text(source.replace(line, broken))
    return copy


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "line", "broken"),
    [
        pytest.param(name, line, broken, id=f"{name}: {what}")
        for name, cases in MUTATIONS.items()
        for what, line, broken in cases
    ],
)
def test_the_tests_of_a_file_fail_when_a_line_of_it_breaks(name, line, broken, tmp_path):
    copy = mutated_copy(name, line, broken, tmp_path)
    own_tests = [str(TESTS_DIR / f"test_{name}.py")] if (TESTS_DIR / f"test_{name}.py").exists() else []
    result = subprocess.run(
        # the file's own tests first, where a broken line is noticed soonest; -x stops at the first failure
        [sys.executable, "-m", "pytest", *own_tests, str(TESTS_DIR), "--only", name, "-x", "-q", "-n", "0"],
        env=os.environ | {"REFRL_ALGORITHMS": str(copy)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    # exit status 1: tests ran and failed; 0 would be a mutation that survived, 2 or more a broken run
    assert result.returncode == 1 and failed, (
        f"the mutation survived (exit status {result.returncode}):\n{result.stdout[-3000:]}"
    )
    print(failed[0])
