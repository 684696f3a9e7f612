"""Comparing pages: the one block a merged report and its unsharded run may differ in."""

from __future__ import annotations

import re

INVOCATION = re.compile(r'<div id="invocation">.*?</div>\n', re.DOTALL)


def without_invocation(page: str) -> str:
    """``page`` with its invocation-and-timings block removed (there must be exactly one):
    the command lines and seconds of a run, the one part of a page that is not a function of
    the cases and the run settings."""
    stripped, removed = INVOCATION.subn("", page)
    assert removed == 1
    return stripped
