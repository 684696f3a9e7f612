"""The seed systems of SEEDS.md, each reproduced by a demo: ``manualbp demo NAME``.

:data:`DEMOS` maps each demo's name to its :class:`Demo`; :func:`get_demo` looks one up.
``get_demo(name).run(output_dir=Path("reports"))`` returns a :class:`DemoResult` with the
lines to print, the figures behind them and the files written.
"""

from __future__ import annotations

from manualbp.demos import (
    affine,
    apples,
    classifier,
    cos_fit,
    mazur_scalar,
    mazur_vector,
    nielsen,
    relu_net,
    xor,
)
from manualbp.demos.base import Demo, DemoResult
from manualbp.errors import UsageError, describe

__all__ = ["DEMOS", "Demo", "DemoResult", "get_demo"]

DEMOS: dict[str, Demo] = {
    demo.name: demo
    for demo in (
        mazur_scalar.DEMO,
        mazur_vector.DEMO,
        xor.DEMO,
        apples.DEMO,
        affine.DEMO,
        relu_net.DEMO,
        classifier.DEMO,
        cos_fit.DEMO,
        nielsen.DEMO,
    )
}


def get_demo(name: str) -> Demo:
    """The demo called ``name``; raises :class:`UsageError` listing the valid names."""
    if not isinstance(name, str) or name not in DEMOS:
        raise UsageError(f"demo: got {describe(name)}, expected one of {', '.join(DEMOS)}")
    return DEMOS[name]
