"""The page as a person sees it: opened offline in headless Chromium, screenshots saved.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``) and the ``selenium`` package (a test dependency: its absence is an error,
not a skip); skipped, with that reason, only when chromium or chromedriver is absent.
Screenshots go to ``reports/html-report-*.png`` in the repository: synthetic reports, and
the pages of real ``manualbp verify`` runs (``verify-failing``, ``verify-passing``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver

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
        "#worst .card .diagnosis",
        "#worst pre.cmd",
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
    for selector in ("#verdict h1", "#summary table", "#worst .ok", "#published tr.erratum"):
        _visible(browser, selector)
    assert browser.execute_script("return document.querySelector('#cases')") is None
    assert _banner_colour(_screenshot(browser, "passing")) == BANNER["pass"]


def test_hostile_report_runs_nothing_in_chromium(browser, hostile_html, tmp_path):
    page = tmp_path / "hostile.html"
    urls = _open(browser, hostile_html, page)
    _assert_offline_and_quiet(browser, urls, page)
    assert browser.execute_script("return window.pwned === undefined")
    _visible(browser, "#worst .card")


def test_page_of_a_failing_verify_run_in_chromium(browser, verify_runs):
    page = verify_runs.html("failing")
    urls = _open(browser, page.read_text(encoding="utf-8"), page)
    _assert_offline_and_quiet(browser, urls, page)
    for selector in (
        "#verdict h1",
        "#summary table",
        "#worst .card .diagnosis",
        "#worst pre.cmd",
        "section.check .plot svg",
        "section.check table.findings",
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
    for selector in ("#verdict h1", "#summary table", "#worst .ok", "#published table"):
        _visible(browser, selector)
    assert browser.execute_script("return document.querySelector('#cases')") is None
    assert browser.execute_script("return document.title") == "manualbp report: PASS"
    assert _banner_colour(_screenshot(browser, "verify-passing")) == BANNER["pass"]
