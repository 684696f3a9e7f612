"""Parsing of the command line's values: ranges, names, sizes, seeds, architectures."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from manualbp.architecture import Architecture
from manualbp.errors import ArchitectureError, UsageError
from manualbp.plan import MAX_SEED
from manualbp.space import parse_scales


def names(option: str, allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """A parser of a comma-separated subset of ``allowed``."""

    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [c for c in chosen if c not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"got {text!r}, expected a comma-separated subset of {','.join(allowed)}"
            )
        return chosen

    parse.__name__ = option
    return parse


def size_range(text: str) -> tuple[int, int]:
    """``N`` or ``MIN-MAX`` with 1 <= MIN <= MAX."""
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected N or MIN-MAX") from None
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected 1 <= MIN <= MAX")
    return low, high


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"got {value}, expected a non-negative integer")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}, expected a positive integer")
    return value


def seed(text: str) -> int:
    """A seed in 0..2^32 - 1 (what every printed seed is)."""
    value = non_negative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"got {value}, expected an integer in 0..{MAX_SEED}")
    return value


def seconds(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a positive number of seconds")
    return value


_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]?)i?B?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory(text: str) -> int | None:
    """A memory size: ``4G``, ``512M``, ``2.5GiB``, bytes, or ``none`` (no limit)."""
    if text.strip().lower() == "none":
        return None
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a size such as 4G, 512M or none")
    value = int(float(match.group("number")) * _UNITS[match.group("unit").upper()])
    if value < 2**28:
        raise argparse.ArgumentTypeError(
            f"got {text!r}, expected at least 256M (importing torch alone needs about 700M)"
        )
    return value


def scales(text: str) -> tuple[float | None, ...]:
    """``fan-in,0.5,1e-3`` (see :func:`manualbp.space.parse_scales`)."""
    try:
        return parse_scales(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--scales: ")) from None


def probability(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number in [0, 1]") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number in [0, 1]")
    return value


def architecture(text: str) -> Architecture:
    """``--arch``: a JSON Architecture, inline (``'{"sizes": ...}'``) or in a file."""
    if text.lstrip().startswith("{"):
        source, content = "inline JSON", text
    else:
        try:
            source, content = text, Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--arch: cannot read {text} ({exc.strerror})") from None
    try:
        return Architecture.from_json(content)
    except ArchitectureError as exc:
        raise ArchitectureError(f"--arch {source}: {exc}") from None
