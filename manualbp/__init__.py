"""manualbp: a hand-written NumPy backprop engine and the suite that verifies any backprop
implementation against finite differences, PyTorch autograd and published worked examples.

Public names: :func:`check` (run the checks on an implementation, get a Report),
:class:`Architecture`, :class:`Case`, :class:`Finding`, the engine (:mod:`manualbp.engine`),
the formula-by-formula 2-2-2 network (:mod:`manualbp.mazur`), and :class:`ManualbpError`,
the base of every error raised for bad input.
"""

from typing import Any

from manualbp.architecture import Architecture
from manualbp.case import Case, case_from_seed
from manualbp.errors import ManualbpError
from manualbp.findings import Finding

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "Case",
    "Finding",
    "ManualbpError",
    "__version__",
    "case_from_seed",
    "check",
]


def __getattr__(name: str) -> Any:
    """``manualbp.check``, imported on first use (it loads the checks and the pipeline)."""
    if name == "check":
        from manualbp.api import check

        return check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
