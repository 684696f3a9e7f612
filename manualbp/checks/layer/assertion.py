"""``assert_layer``: one line per layer in a user's own tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from manualbp.checks.layer.space import LayerSpace
from manualbp.findings import CHECKS, Finding


def assert_layer(
    layers: Any,
    kind: str | None = None,
    *,
    cases: int = 3,
    seed: int = 0,
    checks: Sequence[str] = CHECKS,
    space: LayerSpace | None = None,
) -> list[Finding]:
    """Check a layer and raise AssertionError unless every comparison agrees.

    ``layers`` is an imported module (with ``kind``, its layer of that kind, e.g.
    ``assert_layer(my_layers, "affine")``; without, every pair and loss in it), a class, a
    ``(forward, backward)`` pair, a loss function, a ``--layer`` spec string or a
    :class:`~manualbp.checks.layer.LayerSubject`. ``kind`` asserts what the layer is, so
    the torch reference and the worked examples run too. The message (that of
    :func:`manualbp.pytest_plugin.failure_message`) names the worst entry, both values, the
    verdict's reason, the likely bug and the seed. Returns the Findings when all agree.
    """
    __tracebackhide__ = True  # pytest shows the caller's line
    from manualbp.checks.layer import run_many, subjects_of
    from manualbp.pytest_plugin import failure_message
    from manualbp.report.model import Report
    from manualbp.verify import outcome

    subjects = subjects_of(layers, kind)
    findings = list(run_many(subjects, checks=tuple(checks), cases=cases, seed=seed, space=space))
    if outcome(Report(findings)).exit_code != 0:
        names = ", ".join(subject.name for subject in subjects)
        raise AssertionError(failure_message(findings, names))
    return findings
