"""The documentation and the README say what the committed result rows say: every placeholder of the site
expands from the rows, the README's table is the one the rows give, every algorithm file has its page, and
no page types a result's figure by hand. (The site itself, built and opened in a browser: test_site.py.)"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
pytest.importorskip("rliable", reason="the docs extra: pip install -e '.[docs]'")
pytest.importorskip("matplotlib", reason="the docs extra: pip install -e '.[docs]'")
sys.path.insert(0, str(ROOT / "benchmarks"))
import pages  # noqa: E402

PAGES = sorted(DOCS.rglob("*.md"))


def test_the_readme_s_table_is_what_the_rows_give():
    readme = (ROOT / "README.md").read_text()
    assert readme == pages.readme_with_table(readme), (
        "the README's table differs from the rows: run python benchmarks/pages.py --readme"
    )
    assert len(readme.splitlines()) <= 150


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(DOCS)) for page in PAGES])
def test_every_placeholder_of_a_page_expands_from_the_rows(page):
    text = pages.expand(page.read_text())
    assert "{{" not in text and "TO BE WRITTEN" not in text


def test_every_algorithm_file_has_its_page_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for path in sorted((ROOT / "algorithms").glob("*.py")):
        assert (DOCS / "algorithms" / f"{path.stem}.md").exists(), f"no page for {path.name}"
        assert f"algorithms/{path.stem}.md" in nav, f"{path.stem}'s page is not in mkdocs.yml's nav"
        assert path.stem in pages.FILES, f"{path.name} is not in the table of every file"


def test_every_current_result_has_its_runs():
    for (name, env_id), (sweep, _) in pages.CURRENT.items():
        assert pages.current_runs(name, env_id), f"no runs of {name} on {env_id} in {sweep}"


def test_every_tag_a_file_logs_is_explained():
    for path in sorted((ROOT / "algorithms").glob("*.py")):
        for tag in pages.logged_tags(path.stem):
            assert (path.stem, tag) in pages.TAG_OF_FILE or tag in pages.TAGS, f"{path.stem}: {tag}"


# what a result's figure looks like in prose: "19 of 20", "1.63×", "−153.9 ± 21.6"
TYPED_FIGURE = re.compile(r"\b\d+ of \d+\b|\d(?:\.\d+)?×|\d ± \d")


def prose(text: str) -> str:
    """A page's text less its code blocks, its inline code and its placeholders."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    return pages.PLACEHOLDER.sub("", text)


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(DOCS)) for page in PAGES])
def test_no_page_types_a_result_s_figure_by_hand(page):
    typed = TYPED_FIGURE.findall(prose(page.read_text()))
    assert not typed, f"{page.relative_to(ROOT)} types {typed}: a result's figure comes from a placeholder"


def test_the_readme_types_no_result_s_figure_by_hand():
    start, end = pages.README_TABLE
    readme = (ROOT / "README.md").read_text()
    before, rest = readme.split(start)
    _, after = rest.split(end)
    assert not TYPED_FIGURE.findall(prose(before + after))


def test_each_algorithm_page_shows_its_file_s_own_docstring():
    # rendered from the file at build time, never copied: page and file cannot drift
    for path in sorted((ROOT / "algorithms").glob("*.py")):
        page = (DOCS / "algorithms" / f"{path.stem}.md").read_text()
        assert f'{{{{ docstring("{path.stem}") }}}}' in page, (
            f"{path.stem}'s page does not render its docstring"
        )


def test_no_page_cites_an_issue_a_reader_cannot_open():
    issue = re.compile(r"\bissues? #?\d+|(?<![\w&])#\d+\b")
    shown = [page.read_text() for page in PAGES] + [
        pages.docstring(p.stem) for p in (ROOT / "algorithms").glob("*.py")
    ]
    cited = [match for text in shown for match in issue.findall(prose(text))]
    assert not cited, cited
