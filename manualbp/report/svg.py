"""Making matplotlib's SVG smaller without changing what it draws.

matplotlib writes coordinates with six decimals and repeats the style of a scatter plot on
every point; a page with a few plots of hundreds of points would weigh hundreds of KB.
"""

from __future__ import annotations

import re

_DECIMALS = re.compile(r"(?<![\w#.])-?\d+\.\d{3,}")
_MARKER_USE = re.compile(
    r'<use xlink:href="#(?P<id>[\w-]+)" (?P<at>x="[^"]*" y="[^"]*") style="(?P<style>[^"]*)"/>'
)


def compact(svg: str) -> str:
    """A smaller SVG that draws the same: coordinates to 1/100 of a point, and the style
    every use of a marker shares (scatter points) moved onto the marker's definition when
    that has no style of its own."""
    svg = _DECIMALS.sub(lambda match: f"{float(match.group()):.2f}", svg)
    styles: dict[str, set[str]] = {}
    for match in _MARKER_USE.finditer(svg):
        styles.setdefault(match.group("id"), set()).add(match.group("style"))
    shared = {}
    for marker, found in styles.items():
        definition = re.compile(rf'<path id="{re.escape(marker)}" (d="[^"]*")/>')
        if len(found) == 1 and len(definition.findall(svg)) == 1:
            (shared[marker],) = found
            svg = definition.sub(rf'<path id="{marker}" \1 style="{shared[marker]}"/>', svg)

    def unstyled(match: re.Match[str]) -> str:
        if match.group("id") not in shared:
            return match.group(0)
        return f'<use xlink:href="#{match.group("id")}" {match.group("at")}/>'

    return _MARKER_USE.sub(unstyled, svg)
