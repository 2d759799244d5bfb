"""The built site, looked at as a person would, in a real headless browser (Debian's chromium and its
chromedriver, driven by selenium): the home page and every algorithm page load without console errors,
no raw TeX is left on them, every image loads, nothing is fetched from another host, and the navigation
reaches every page. Under -m site: .ci/run builds the site (mkdocs build --strict) and runs this.

    mkdocs build --strict && pytest -m site tests/test_site.py -n 0
"""

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = [
    pytest.mark.site,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver"),
    pytest.mark.skipif(not (SITE / "index.html").exists(), reason="the site is not built: mkdocs build"),
]
webdriver = pytest.importorskip("selenium.webdriver", reason="the docs extra: pip install -e '.[docs]'")
WebDriverWait = pytest.importorskip("selenium.webdriver.support.wait").WebDriverWait

ALGORITHM_PAGES = sorted(path.stem for path in (ROOT / "algorithms").glob("*.py"))


@pytest.fixture(scope="module")
def server():
    """The built site, served on a port of localhost for the length of the tests."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_window_size(1300, 1000)
    yield driver
    driver.quit()


def visit(browser, url: str) -> dict:
    """Load a page; return what a person would meet on it."""
    # leave the previous page first, so that what it logs as it goes (a request of its own cut short) is
    # flushed with it, not counted against this one
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get(url)
    # get() can return before the new document has replaced the blank one (seen once in CI: a page whose
    # images were fetched read as having none); wait until this URL's document and its images are loaded
    WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script(
            "return document.URL === arguments[0] && document.readyState === 'complete'"
            " && Array.from(document.images).every(i => i.complete)",
            url,
        )
    )
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc, i.complete && i.naturalWidth > 0])"
    )
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return {
        "errors": [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"],
        "text": browser.find_element("tag name", "body").text,
        "images": images,
        "resources": resources,
        "links": browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
        ),
    }


# every page of the site: the home page, the algorithms', the studies', and the others (tasks, guide, history)
PAGES = [
    "",
    *(f"algorithms/{name}/" for name in ALGORITHM_PAGES),
    *(f"studies/{path.stem}/" for path in sorted((ROOT / "docs" / "studies").glob("*.md"))),
    *(f"{path.stem}/" for path in sorted((ROOT / "docs").glob("*.md")) if path.stem != "index"),
]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_loads_whole_with_nothing_from_elsewhere(server, browser, page):
    seen = visit(browser, urljoin(server, page))
    assert not seen["errors"], seen["errors"]
    assert seen["text"].strip()
    # math is written in the code's symbols (Unicode), never as TeX to be typeset by a script
    for tex in ("\\frac", "\\theta", "\\gamma", "$$", "\\(", "\\["):
        assert tex not in seen["text"], f"raw TeX {tex!r} on {page or 'the home page'}"
    broken = [src for src, loaded in seen["images"] if not loaded]
    assert not broken, broken
    if page.startswith("algorithms/"):
        assert seen["images"], f"{page} shows no learning curve"
    # offline: every resource the page loaded came from this site
    elsewhere = [url for url in seen["resources"] if urlparse(url).netloc != urlparse(server).netloc]
    assert not elsewhere, elsewhere


def test_the_navigation_reaches_every_page(server, browser):
    built = {
        "/" + str(path.parent.relative_to(SITE)).replace(".", "").strip("/") + "/"
        for path in SITE.rglob("index.html")
        if "assets" not in path.parts and "404" not in path.parts
    }
    built = {page.replace("//", "/") for page in built}
    reached, frontier = set(), ["/"]
    while frontier:
        page = frontier.pop()
        if page in reached:
            continue
        reached.add(page)
        for link in visit(browser, urljoin(server, page))["links"]:
            parsed = urlparse(link)
            if parsed.netloc == urlparse(server).netloc and parsed.path.endswith("/"):
                frontier.append(parsed.path)
    assert built <= reached, f"pages the navigation does not reach: {sorted(built - reached)}"
