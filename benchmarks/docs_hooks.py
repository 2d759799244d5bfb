"""The site's build, through MkDocs' hooks (mkdocs.yml): every figure is drawn from the committed result
rows before the pages are read, and every placeholder of a page is replaced by what benchmarks/pages.py
computes from the rows. A page holds no number of a result that it did not get so."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402


def on_pre_build(config):
    pages.draw_all()
    pages.draw_studies()  # the study pages' figures, into docs/figures/studies/


def on_page_markdown(markdown, page, config, files):
    return pages.expand(markdown)
