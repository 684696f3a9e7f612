"""``python -m benchmarks.layers``: the layer check of a conv2d layer with 10^4 parameters.

Target: the layer check (``fd`` and ``autograd``, one case) of a conv2d layer with at least
10^4 parameters in under 5 s. The layer is F = 36 filters of 32 channels, 3 x 3, with a bias
(36·32·9 + 36 = 10,404 parameters), on x (2, 32, 8, 8), stride 1, pad 1, so θ = (x, w, b) has
12,452 entries and the fd check runs in its directional mode (4 random directions per array,
a cost independent of the parameter count). Two implementations are timed:

* ``manualbp.layers:conv2d`` — the library's pair, one tensor contraction per kernel offset;
* ``tests/layers/user_layers/cs231n_layers.py:conv`` — the four nested loops of CS231n's
  ``conv_forward_naive`` / ``conv_backward_naive``, as students write them.

For each: the wall time of the whole check (median and min–max of ``--rounds`` runs, after
one warm-up that imports torch), the number of forward and backward calls it made, and the
same counts for a layer with ten times fewer parameters (F = 4), which should be equal: the
call count does not grow with the parameter count. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from benchmarks.processes import ROOT
from benchmarks.stats import spread, summary
from manualbp.checks.layer import LayerSpace, LayerSubject, load_layers, run

TARGET_SECONDS = 5.0
LARGE = LayerSpace(
    batch=(2, 2),
    channels=(32, 32),
    filters=(36, 36),
    kernel=(3, 3),
    out_size=(8, 8),
    stride=(1, 1),
    pad=(1, 1),
)
SMALL = replace(LARGE, filters=(4, 4))
NAIVE = str(ROOT / "tests" / "layers" / "user_layers" / "cs231n_layers.py") + ":conv"
SUBJECTS = {"manualbp.layers:conv2d": "manualbp.layers:conv2d", "CS231n naive loops": NAIVE}


def _counted(subject: LayerSubject) -> tuple[LayerSubject, dict[str, int]]:
    """The subject with its forward and backward wrapped to count their calls."""
    calls = {"forward": 0, "backward": 0}

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapped

    assert subject.backward is not None
    wrapped = replace(
        subject,
        forward=counting("forward", subject.forward),
        backward=counting("backward", subject.backward),
    )
    return wrapped, calls


def measure(spec: str, space: LayerSpace, rounds: int) -> dict[str, Any]:
    """Seconds per check (summary over ``rounds``), calls made, parameters and verdicts."""
    (subject,) = load_layers(spec, "conv2d")
    counted, calls = _counted(subject)
    checks = ("fd", "autograd")
    findings = list(run(counted, cases=1, space=space, checks=checks))  # warm-up, counts
    counts = dict(calls)
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        list(run(subject, cases=1, space=space, checks=checks))
        seconds.append(time.perf_counter() - started)
    w = space.filters[0] * space.channels[0] * space.kernel[0] ** 2
    return {
        "seconds": summary(seconds),
        "calls": counts,
        "parameters": w + space.filters[0],
        "verdicts": sorted({f.verdict for f in findings}),
        "methods": sorted({f.method for f in findings if f.check == "fd"}),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print; exit 0 whatever the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layers", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per layer (3)")
    args = parser.parse_args(argv)
    print(f"layer check (fd + autograd, 1 case) of conv2d, target < {TARGET_SECONDS:g} s")
    header = f"{'implementation':<24}{'params':>8}{'seconds median (min-max)':>28}{'calls':>18}"
    print(header)
    print("-" * len(header))
    for label, spec in SUBJECTS.items():
        for space in (LARGE, SMALL):
            result = measure(spec, space, args.rounds)
            calls = f"{result['calls']['forward']} fwd, {result['calls']['backward']} bwd"
            met = "met" if result["seconds"]["median"] < TARGET_SECONDS else "MISSED"
            mark = f"  {met}" if space is LARGE else ""
            print(
                f"{label:<24}{result['parameters']:>8}{spread(result['seconds']):>28}"
                f"{calls:>18}{mark}  verdicts {', '.join(result['verdicts'])}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
