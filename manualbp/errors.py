"""The one family of exceptions manualbp raises for bad input.

Every error names the field that was wrong, what was given and what was expected, in one
line, so that the CLI can print ``str(error)`` and exit with code 2.
"""

from __future__ import annotations


class ManualbpError(Exception):
    """Base class of every error manualbp raises on purpose (bad input or usage)."""


class ArchitectureError(ManualbpError, ValueError):
    """An Architecture field is missing, of the wrong type or out of range."""


class ParameterError(ManualbpError, ValueError):
    """A parameter dict has missing, extra, misshaped or non-finite arrays."""


class BatchError(ManualbpError, ValueError):
    """An input batch x or target batch y has the wrong shape or non-finite values."""


class ImplementationError(ManualbpError):
    """An implementation under test cannot be loaded or does not follow the protocol."""


class ReferenceFileError(ManualbpError, ValueError):
    """A published-numbers reference file is malformed or inconsistent."""


class ReportError(ManualbpError, ValueError):
    """A report file is malformed, truncated or of an unknown schema version."""


class UsageError(ManualbpError, ValueError):
    """A command-line option or argument is invalid."""


def describe(value: object, limit: int = 60) -> str:
    """Return a short one-line ``repr`` of ``value`` for an error message (runs of
    whitespace, newlines included, become one space), cut to ``limit`` characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
