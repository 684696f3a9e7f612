"""manualbp: a hand-written NumPy backprop engine and the suite that verifies any backprop
implementation against finite differences, PyTorch autograd and published worked examples.

Public names: :class:`Architecture`, :class:`Case`, :class:`Finding`, the engine
(:mod:`manualbp.engine`), the formula-by-formula 2-2-2 network (:mod:`manualbp.mazur`),
and :class:`ManualbpError`, the base of every error raised for bad input.
"""

from manualbp.architecture import Architecture
from manualbp.case import Case, case_from_seed
from manualbp.errors import ManualbpError
from manualbp.findings import Finding

__version__ = "0.1.0"

__all__ = ["Architecture", "Case", "Finding", "ManualbpError", "__version__", "case_from_seed"]
