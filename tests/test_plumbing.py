"""Every algorithm file has the same shape: the algorithm first (docstring, imports, Args, make_env,
networks, storage, evaluate, train), then one `# ---- plumbing` banner, and below it the same text
in every file, so that a fix to the plumbing is one edit copied to all of them, and the copies
cannot drift apart."""

import ast
import difflib
from pathlib import Path

import pytest
from conftest import ALGORITHMS_DIR, OWN_PLUMBING, PIXELS, SHORT_RUNS

BANNER = "# ---- plumbing"
FILES = sorted(ALGORITHMS_DIR.glob("*.py"))
SHARED = [path for path in FILES if path.stem not in OWN_PLUMBING]


def split_at_banner(path):
    lines = path.read_text().splitlines(keepends=True)
    banners = [i for i, line in enumerate(lines) if line.startswith(BANNER)]
    assert len(banners) == 1, f"{path.name}: {len(banners)} lines start with {BANNER!r}, not one"
    return lines[: banners[0]], lines[banners[0] :]


def test_every_algorithm_file_is_tested():
    assert {path.stem for path in FILES} == set(SHORT_RUNS) | set(PIXELS) | set(OWN_PLUMBING)
    assert all((Path(__file__).parent / test_file).exists() for test_file in OWN_PLUMBING.values())


@pytest.mark.parametrize("path", SHARED, ids=[path.stem for path in SHARED])
def test_the_plumbing_is_the_same_text_in_every_file(path):
    _, reference = split_at_banner(ALGORITHMS_DIR / "dqn.py")
    _, plumbing = split_at_banner(path)
    difference = "".join(difflib.unified_diff(reference, plumbing, "dqn.py", path.name, n=1))
    assert plumbing == reference, f"the plumbing of {path.name} differs from dqn.py's:\n{difference}"


def test_the_plumbing_stays_short_enough_to_skip():
    # a reader skips it on a first read: at most 350 lines, its banner included
    _, plumbing = split_at_banner(ALGORITHMS_DIR / "dqn.py")
    assert len(plumbing) <= 350, f"the plumbing is {len(plumbing)} lines, more than 350"


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_the_algorithm_comes_first_in_its_order_and_the_plumbing_last(path):
    above, _ = split_at_banner(path)
    module = ast.parse(path.read_text())
    banner_line = len(above) + 1
    names = [node.name for node in module.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    for name in ("Args", "make_env", "evaluate", "train"):
        assert name in names, f"{path.name} has no {name}"
    order = [names.index(name) for name in ("Args", "make_env", "evaluate", "train")]
    assert order == sorted(order), f"{path.name}: Args, make_env, evaluate and train are not in that order"
    train = next(node for node in module.body if getattr(node, "name", None) == "train")
    assert train.end_lineno < banner_line, f"{path.name}: train() is below the plumbing banner"
    assert ast.get_docstring(module), f"{path.name} has no module docstring"
    # train() reads as the algorithm: each plumbing concern is one call to a helper below the banner
    assert train.end_lineno - train.lineno + 1 <= 140, f"{path.name}: train() is longer than 140 lines"
    # and the file ends by running it
    main = module.body[-1]
    assert (
        isinstance(main, ast.If)
        and ast.unparse(main) == "if __name__ == '__main__':\n    train(tyro.cli(Args))"
    )
