"""Every page of the built site, in real headless Chromium, as a reader would open it.

For each page: it loads; the browser console shows no error; no request leaves localhost
(the site must work offline and must not leak readers to third-party hosts); every plotly
figure has drawn its SVG and every circuitsvis view has rendered; a page that runs code has
both Colab buttons, pointing at notebooks that exist in the built site; the page's HTML is
under 2 MB. A screenshot of each page goes to `_build/screenshots/` for a human look.

Chromium: $CHROME_BIN or /usr/bin/chromium, with $CHROMEDRIVER or /usr/bin/chromedriver
(`bash scripts/setup_env.sh --browser` installs Debian's). Selenium is told both paths, so it
never tries to download a browser or a driver.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, SCREENSHOTS, SITE, need_built, site_required
from coursebuild import repo

pytestmark = pytest.mark.browser

MAX_HTML_BYTES = 2 * 1024 * 1024
COLAB_PREFIX = repo.repository(ROOT).colab_url("")  # the repository book/_config.yml names
RENDER_TIMEOUT_S = 30
SKIP_DIRS = {"_static", "_sources", "_images", "notebooks", "_sphinx_design_static"}
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
# Console messages that say nothing about the course's pages. Keep this list short, give each
# entry its reason, and remove an entry as soon as its cause is fixed.
IGNORED_CONSOLE = (
    # Chromium asks every site for /favicon.ico by itself; the 404 is not the page's.
    "favicon.ico",
)


def site_pages() -> list[str]:
    """Every HTML page of the site, relative to _build/html, in a stable order."""
    if not SITE.is_dir():
        return []
    pages = []
    for path in sorted(SITE.rglob("*.html")):
        rel = path.relative_to(SITE)
        if rel.parts[0] in SKIP_DIRS:
            continue
        pages.append(rel.as_posix())
    return pages


def source_of(page: str) -> Path:
    """The MyST source of a built page (the book's source folder is the repository root)."""
    return ROOT / Path(page).with_suffix(".md")


def runs_code(page: str) -> bool:
    from coursebuild.notebooks import is_notebook_source

    return is_notebook_source(source_of(page))


# --------------------------------------------------------------------------- fixtures


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def server():
    need_built(SITE / "index.html", "the built site")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _browser_paths() -> tuple[str, str]:
    chrome = os.environ.get("CHROME_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    for what, path in (("Chromium", chrome), ("ChromeDriver", driver)):
        if not Path(path).exists():
            message = f"{what} not found at {path}: run `bash scripts/setup_env.sh --browser`"
            (pytest.fail if site_required() else pytest.skip)(message)
    return chrome, driver


@pytest.fixture(scope="module")
def browser(server):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        (pytest.fail if site_required() else pytest.skip)("selenium is missing: run `bash scripts/setup_env.sh`")
    chrome, driver_path = _browser_paths()
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not look for downloads
    profile = tempfile.mkdtemp(prefix="micourse-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- helpers

_RENDER_STATE_JS = """
const plots = Array.from(document.querySelectorAll('.plotly-graph-div'));
const views = Array.from(document.querySelectorAll('[id^="circuits-vis-"]'));
return {
  ready: document.readyState,
  plots: plots.map(d => ({id: d.id, drawn: d.classList.contains('js-plotly-plot') && !!d.querySelector('svg.main-svg')})),
  // a view folded away (offsetParent null) has no size; one on show must have some
  views: views.map(v => ({id: v.id,
                          drawn: v.childElementCount > 0 && !v.textContent.includes('did not load')
                                 && (v.offsetParent === null || v.getBoundingClientRect().height > 0)})),
};
"""


def _wait_rendered(driver) -> dict:
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        state = driver.execute_script(_RENDER_STATE_JS)
        done = state["ready"] == "complete" and all(p["drawn"] for p in state["plots"] + state["views"])
        if done or time.monotonic() > deadline:
            return state
        time.sleep(0.25)


def _requested_urls(perf_log: list[dict]) -> list[str]:
    urls = []
    for entry in perf_log:
        message = json.loads(entry["message"])["message"]
        method = message.get("method")
        if method == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif method == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript"):
        return True
    if parts.scheme in ("chrome", "chrome-extension", "chrome-untrusted", "devtools"):
        return True  # the browser's own pages (the start tab), served from inside Chromium
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in ("127.0.0.1", "localhost")


def _screenshot(driver, page: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = page.removesuffix(".html").replace("/", "__")
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    # the whole page too, at half scale, capped so that a very long page stays a sane file
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 0.5}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
    )
    (SCREENSHOTS / f"{name}-full.png").write_bytes(base64.b64decode(shot["data"]))


# --------------------------------------------------------------------------- tests


def test_site_has_pages():
    need_built(SITE / "index.html", "the built site")
    pages = site_pages()
    assert len(pages) >= 2, f"only {pages} under {SITE}"
    assert code_pages(), "no page of the site runs code"


@pytest.mark.parametrize("page", site_pages())
def test_page_html_under_2mb(page: str):
    size = (SITE / page).stat().st_size
    assert size <= MAX_HTML_BYTES, f"{page} is {size / 1e6:.2f} MB of HTML (limit 2 MB): share bundles, shrink figures"


@pytest.mark.parametrize("page", site_pages())
def test_page_in_browser(browser, server, page: str):
    browser.get_log("browser")  # drop what earlier pages left
    browser.get_log("performance")
    browser.get(f"{server}/{page}")
    state = _wait_rendered(browser)
    _screenshot(browser, page)
    console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    urls = _requested_urls(browser.get_log("performance"))

    problems = []
    if state["ready"] != "complete":
        problems.append(f"never finished loading (readyState {state['ready']})")
    problems += [
        f"console error: {e['message']}" for e in console if not any(s in e["message"] for s in IGNORED_CONSOLE)
    ]
    problems += [f"request leaves localhost: {u}" for u in urls if not _is_local(u)]
    problems += [f"plotly figure #{p['id']} did not draw" for p in state["plots"] if not p["drawn"]]
    problems += [f"circuitsvis view #{v['id']} did not render" for v in state["views"] if not v["drawn"]]
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def code_pages() -> list[str]:
    """The pages that run code (MyST with a kernelspec): each has two Colab notebooks."""
    return [p for p in site_pages() if source_of(p).is_file() and runs_code(p)]


@pytest.mark.parametrize("page", code_pages())
def test_colab_buttons(browser, server, page: str):
    from selenium.webdriver.common.by import By

    if browser.current_url != f"{server}/{page}":
        browser.get(f"{server}/{page}")
    buttons = browser.find_elements(By.CSS_SELECTOR, "a.micourse-colab-button")
    hrefs = sorted(b.get_attribute("href") for b in buttons)
    assert len(hrefs) == 2, f"{page}: expected the exercises and solutions Colab buttons, found {hrefs}"
    variants = set()
    for href in hrefs:
        assert href.startswith(COLAB_PREFIX), f"{page}: Colab link {href} does not start with {COLAB_PREFIX}"
        notebook = href.removeprefix(COLAB_PREFIX)
        assert notebook.startswith("notebooks/") and notebook.endswith(".ipynb"), href
        assert (SITE / notebook).is_file(), f"{page}: {href} points at {notebook}, missing from {SITE}"
        variants.add(notebook.removesuffix(".ipynb").rsplit("-", 1)[-1])
    assert variants == {"exercises", "solutions"}, f"{page}: Colab buttons open {variants}"
