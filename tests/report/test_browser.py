"""The page as a person sees it: opened offline in headless Chromium, screenshots saved.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``) and the ``selenium`` package (a test dependency: its absence is an error,
not a skip); skipped, with that reason, only when chromium or chromedriver is absent.
Screenshots go to ``reports/html-report-*.png`` in the repository: synthetic reports, the
pages of real ``manualbp verify`` runs (``verify-failing``, ``verify-passing``), and the page
of the README's failing example (``readme-example`` for its first screen,
``readme-example-full`` for the whole page).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By

from manualbp.cli import main
from manualbp.report.causes import root_causes
from manualbp.report.model import read_report

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed "
    "(apt-get install -y chromium chromium-driver)",
)

REPORTS = Path(__file__).resolve().parents[2] / "reports"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,900",
)
BANNER = {"fail": (0xC6, 0x28, 0x28), "pass": (0x2E, 0x7D, 0x32)}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, html: str, path: Path) -> list[str]:
    """Load ``html`` from ``path``; return the URLs the page requested."""
    path.write_text(html, encoding="utf-8")
    browser.get("about:blank")
    browser.get_log("performance")
    browser.get_log("browser")
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _assert_offline_and_quiet(browser, urls: list[str], page: Path) -> None:
    assert page.as_uri() in urls
    assert [u for u in urls if u != page.as_uri() and not u.startswith("data:")] == []
    assert browser.get_log("browser") == []
    assert browser.execute_script("return document.scripts.length") == 0


def _visible(browser, selector: str) -> None:
    from selenium.webdriver.common.by import By

    elements = browser.find_elements(By.CSS_SELECTOR, selector)
    assert elements, f"nothing matches {selector}"
    for element in elements[:3]:
        assert element.is_displayed(), selector
        assert element.size["height"] > 0 and element.size["width"] > 0, selector


def _screenshot(browser, name: str) -> Path:
    """Save a full-page screenshot as reports/html-report-<name>.png."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height, 16000))
    REPORTS.mkdir(exist_ok=True)
    target = REPORTS / f"html-report-{name}.png"
    try:
        assert browser.save_screenshot(str(target))
    finally:
        browser.set_window_size(1280, 900)
    return target


def _banner_colour(png: Path) -> tuple[int, int, int]:
    with Image.open(png) as image:
        return image.convert("RGB").getpixel((8, 8))


def test_failing_report_in_chromium(browser, failing_html, tmp_path):
    page = tmp_path / "failing.html"
    urls = _open(browser, failing_html, page)
    _assert_offline_and_quiet(browser, urls, page)
    for selector in (
        "#verdict h1",
        "#summary table",
        "#causes article.cause .sentence",
        "#causes pre.cmd",
        "#causes table.worst",
        "section.check .plot svg",
        "#cases .case svg",
        "#cases tr.first-bad",
        "#step-curve svg",
        "#published tr.erratum",
        "#published tr.remarks",
        "#kill-matrix tr.survivor",
        "#metadata table",
    ):
        _visible(browser, selector)
    assert browser.execute_script("return document.title") == "manualbp report: FAIL"
    overflow = "return document.documentElement.scrollWidth <= window.innerWidth"
    assert browser.execute_script(overflow), "the page scrolls sideways at 1280 px"
    assert _banner_colour(_screenshot(browser, "failing")) == BANNER["fail"]


def test_passing_report_in_chromium(browser, passing_html, tmp_path):
    page = tmp_path / "passing.html"
    urls = _open(browser, passing_html, page)
    _assert_offline_and_quiet(browser, urls, page)
    for selector in ("#verdict h1", "#summary table", "#summary .ok", "#published tr.erratum"):
        _visible(browser, selector)
    assert browser.execute_script("return document.querySelector('#cases')") is None
    assert _banner_colour(_screenshot(browser, "passing")) == BANNER["pass"]


def test_hostile_report_runs_nothing_in_chromium(browser, hostile_html, tmp_path):
    page = tmp_path / "hostile.html"
    urls = _open(browser, hostile_html, page)
    _assert_offline_and_quiet(browser, urls, page)
    assert browser.execute_script("return window.pwned === undefined")
    _visible(browser, "#causes article.cause")


def test_page_of_a_failing_verify_run_in_chromium(browser, verify_runs):
    page = verify_runs.html("failing")
    urls = _open(browser, page.read_text(encoding="utf-8"), page)
    _assert_offline_and_quiet(browser, urls, page)
    for selector in (
        "#verdict h1",
        "#summary table",
        "#causes article.cause .sentence",
        "#causes pre.cmd",
        "#causes table.worst",
        "section.check .plot svg",
        "#cases .case svg",
        "#cases tr.first-bad",
        "#published table",
        "#metadata table",
        "#invocation table",
    ):
        _visible(browser, selector)
    assert browser.execute_script("return document.title") == "manualbp report: FAIL"
    assert _banner_colour(_screenshot(browser, "verify-failing")) == BANNER["fail"]


def test_page_of_a_passing_verify_run_in_chromium(browser, verify_runs):
    page = verify_runs.html("unsharded")
    urls = _open(browser, page.read_text(encoding="utf-8"), page)
    _assert_offline_and_quiet(browser, urls, page)
    for selector in ("#verdict h1", "#summary table", "#summary .ok", "#published table"):
        _visible(browser, selector)
    assert browser.execute_script("return document.querySelector('#cases')") is None
    assert browser.execute_script("return document.title") == "manualbp report: PASS"
    assert _banner_colour(_screenshot(browser, "verify-passing")) == BANNER["pass"]


README_EXAMPLE = Path(__file__).parent / "readme_mlp.py"
README_OPTIONS = ("--activations", "sigmoid", "--losses", "half_sse", "--bias-modes", "per_unit")
PAGE_BUDGET = 250_000
"""Largest page of the README's failing example, bytes."""


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory) -> Path:
    """The JSON report of the README's failing example (its page is index.html beside it)."""
    report = tmp_path_factory.mktemp("readme-example") / "report.json"
    command = ["verify", "--impl", str(README_EXAMPLE), *README_OPTIONS, "--json", str(report)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(command) == 1
    return report


def _in_first_screen(browser, element) -> bool:
    top, bottom = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom];", element
    )
    return top >= 0 and bottom <= browser.execute_script("return window.innerHeight")


def test_readme_failing_example_names_its_cause_on_the_first_screen(browser, readme_run):
    page = readme_run.with_name("index.html")
    assert page.stat().st_size <= PAGE_BUDGET
    urls = _open(browser, page.read_text(encoding="utf-8"), page)
    _assert_offline_and_quiet(browser, urls, page)
    report = read_report(readme_run)
    expected = root_causes(report.findings, report.extras)[0]
    assert expected.formula and expected.site
    cause = browser.find_element(By.CSS_SELECTOR, "#causes article.cause")
    shown = {
        "kind": expected.kind,
        "formula": expected.formula,
        "site": expected.site,
        "cmd": expected.smallest.reproduce,
    }
    for cls, text in shown.items():
        element = cause.find_element(By.CSS_SELECTOR, f".{cls}")
        assert element.text == text, cls
        assert _in_first_screen(browser, element), f"{cls} is below the first screen"
    assert shown["cmd"].startswith(f"manualbp verify --impl {README_EXAMPLE} --checks ")
    REPORTS.mkdir(exist_ok=True)
    first = REPORTS / "html-report-readme-example.png"
    assert browser.save_screenshot(str(first))
    assert _banner_colour(first) == BANNER["fail"]
    overflow = "return document.documentElement.scrollWidth <= window.innerWidth"
    assert browser.execute_script(overflow), "the page scrolls sideways at 1280 px"
    _screenshot(browser, "readme-example-full")
