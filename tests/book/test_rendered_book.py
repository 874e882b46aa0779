"""The rendered book as a reader sees it: every page opened in headless Chromium.

Fails on an HTTP or JavaScript console error, an image that did not load or has no alt text, math that
MathJax did not typeset (or typeset with an error), a reference without a year ("n.d."), an output cell
showing an error, traceback or stderr stream, a missing stage page, a page with fewer figures than its
executed notebook shows, or a broken internal link. Saves a full-page PNG screenshot of each page under
``_build/screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socketserver
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

import nbformat

from book_pages import EXECUTED, HTML, REPO, expected_pages, figure_outputs, output_images
from ra_lib.core.runner import discover_stages

pytestmark = pytest.mark.book
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1600")
#: Output areas that must not appear unless a page chose to show them (myst-nb classes).
ERROR_SELECTORS = (".output.error", ".output.traceback", ".output.stderr", ".cell_output .stderr")
#: Waits for MathJax 3 to start (30 s at most on a loaded machine) and finish; returns the math elements Sphinx wrote, MathJax's output and its errors.
MATH_STATE = """
const done = arguments[arguments.length - 1];
const math = document.querySelectorAll("span.math, div.math").length;
const state = () => ({math: math, typeset: document.querySelectorAll("mjx-container").length,
  errors: Array.from(document.querySelectorAll("mjx-merror, [data-mjx-error]"))
               .map(e => e.getAttribute("data-mjx-error") || e.textContent)});
const started = Date.now();
const wait = () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done(state()), e => done({...state(), errors: [String(e)]}));
  } else if (Date.now() - started > 30000) { done({...state(), missing: true}); }
  else { setTimeout(wait, 100); }
};
if (!math) { done(state()); } else { wait(); }
"""
#: docutils writes an image's file name as its alt text when it has none.
IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg)$", re.IGNORECASE)
NO_YEAR = re.compile(r"\bn\.\s?d\.")


class _Recorder(http.server.SimpleHTTPRequestHandler):
    failures: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def send_error(self, code, message=None, explain=None):
        self.failures.append(f"HTTP {code}: {self.path}")
        super().send_error(code, message, explain)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML}/index.html is missing: `make test` builds the smoke book before this test")
    handler = functools.partial(_Recorder, directory=str(HTML))
    httpd = socketserver.TCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        message = ("headless Chromium not found: install Debian's `chromium` and `chromium-driver` "
                   "(apt-get install chromium chromium-driver) to check the rendered pages")
        if os.environ.get("RA_BOOK_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="ra-book-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(driver))
    session.set_page_load_timeout(60)
    session.set_script_timeout(60)
    yield session
    session.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_every_toc_page_was_rendered():
    missing = [page for page in expected_pages() if not (HTML / page).exists()]
    assert not missing, f"pages missing from {HTML}: {missing}"


@pytest.mark.parametrize("stage", discover_stages())
def test_stage_page_shows_every_figure_of_its_notebook(stage):
    page = HTML / "book" / f"{stage}.html"
    if not page.exists():
        pytest.fail(f"{page} is missing: `make test` renders the smoke book before this test")
    drawn = len(figure_outputs(nbformat.read(EXECUTED / f"{stage}.ipynb", as_version=4)))
    images = output_images(page)
    assert len(images) >= drawn, f"{stage}: the executed notebook shows {drawn} figures, its page {len(images)}"
    without_alt = [i["src"] for i in images if not _is_alt_text(i.get("alt"))]
    assert not without_alt, f"{stage}: figures without alt text (docutils writes the file name instead): {without_alt}"


def _is_alt_text(alt: str | None) -> bool:
    return bool(alt and alt.strip()) and not IMAGE_FILE.search(alt.strip())


def _internal_targets(html_file: Path) -> list[str]:
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hrefs = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            for key in ("href", "src"):
                if tag in ("a", "img", "link", "script") and attrs.get(key):
                    self.hrefs.append(attrs[key])

    parser = Links()
    parser.feed(html_file.read_text(errors="ignore"))
    broken = []
    for href in parser.hrefs:
        url = urlparse(href)
        if url.scheme or href.startswith(("#", "mailto:", "//")):
            continue
        target = (html_file.parent / unquote(urldefrag(url.path).url)).resolve()
        if url.path and not target.exists():
            broken.append(href)
    return broken


@pytest.mark.parametrize("page", expected_pages())
def test_page_in_chromium(page, server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _Recorder.failures.clear()
    browser.get(f"{server}/{page}")
    math = browser.execute_async_script(MATH_STATE)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(height, 800), 12000))
    browser.save_screenshot(str(SCREENSHOTS / (page.replace("/", "_").removesuffix(".html") + ".png")))
    browser.set_window_size(1280, 1600)
    problems = [f"console {e['level']}: {e['message']}" for e in browser.get_log("browser")
                if e["level"] == "SEVERE"]
    problems += list(_Recorder.failures)
    problems += [f"image did not load: {src}" for src in browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")]
    problems += [f"image without alt text: {src}" for src in browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.getAttribute('alt') || '').trim() "
        "|| /\\.(png|jpe?g|gif|svg)$/i.test(i.getAttribute('alt').trim())).map(i => i.src)")]
    if math.get("missing"):
        problems.append(f"{math['math']} formulas but MathJax did not load")
    elif math["typeset"] < math["math"]:
        problems.append(f"MathJax typeset {math['typeset']} of {math['math']} formulas")
    problems += [f"MathJax error: {e}" for e in math["errors"]]
    for selector in ERROR_SELECTORS:
        problems += [f"{selector}: {text[:200]}" for text in browser.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText)", selector)]
    body = browser.execute_script("return document.body.innerText")
    if "Traceback (most recent call last)" in body:
        problems.append("a traceback is shown on the page")
    problems += [f"a reference without a year: ...{body[max(0, m.start() - 80):m.end()]}"
                 for m in NO_YEAR.finditer(body)]
    problems += [f"broken internal link: {href}" for href in _internal_targets(HTML / page)]
    assert not problems, f"{page}:\n" + "\n".join(problems)
