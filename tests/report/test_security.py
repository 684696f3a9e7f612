"""Hostile strings in every field are shown as text and never become markup or script."""

from __future__ import annotations

import re

import pytest
from conftest import HOSTILE, PAYLOADS

SHOWN = " ".join(HOSTILE.split())
"""The hostile string as text content reads (whitespace collapsed)."""
SECTIONS = {
    "verdict",
    "causes",
    "summary",
    "cases",
    "step-curve",
    "published",
    "kill-matrix",
    "metadata",
}


@pytest.fixture
def page(hostile_html, parse_html):
    return parse_html(hostile_html)


def test_no_payload_becomes_markup(page, hostile_html):
    assert re.search(r"<script", hostile_html, re.IGNORECASE) is None
    assert '"onload=' not in hostile_html and "'onmouseover=" not in hostile_html
    for tag in ("script", "img", "iframe", "object", "embed", "textarea", "form", "base"):
        assert page.find_all(tag) == [], tag
    for node in page.iter():
        assert not any(name.startswith("on") for name in node.attrs), node.tag
        assert not any(
            "javascript:" in (value or "") for name, value in node.attrs.items() if name != "title"
        ), node.tag


def test_page_structure_is_intact(page):
    head = page.find_all("head")[0]
    assert page.find_all("title")[0].text() == "manualbp report: FAIL"
    assert [
        m.attrs.get("charset") or m.attrs.get("http-equiv") or m.attrs.get("name")
        for m in head.find_all("meta")
    ] == ["utf-8", "Content-Security-Policy", "viewport", "referrer"]
    assert len([s for s in page.find_all("style") if "svg" not in s.ancestors()]) == 1
    ids = {n.attrs["id"] for n in page.iter() if "id" in n.attrs}
    assert ids >= SECTIONS
    checks = 4  # the hostile name, autograd, fd, published
    assert len(page.find_all("section")) == len(SECTIONS - {"verdict"}) + checks
    assert page.find_all("main")[0].parent.tag == "body"


def test_every_field_is_shown_as_text(page):
    for anchor in ("causes", "cases", "published", "kill-matrix", "metadata", "step-curve"):
        assert SHOWN in page.by_id(anchor).text(), anchor
    headings = [h.text() for h in page.find_all("h2")]
    assert f"Check: {SHOWN}" in headings
    commands = [pre.text() for pre in page.find_all("pre", cls="cmd")]
    assert SHOWN in commands
    titles = [n.attrs["title"] for n in page.iter() if "title" in n.attrs]
    assert HOSTILE in titles, "tolerance reasons are attribute values, quoted and escaped"


def test_no_report_string_reaches_a_plot(page):
    for svg in page.find_all("svg"):
        text = svg.text()
        assert not any(payload in text for payload in PAYLOADS[:10])


def test_template_syntax_in_data_is_not_evaluated(page):
    assert "{{ 7*7 }}{% raw %}" in page.by_id("causes").text()
