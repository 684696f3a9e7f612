"""Where the engine's training step goes: a cProfile of ``manualbp.engine.step``, per phase.

Phases (seconds per step, from the profile's cumulative times of the engine functions that
carry them; they add up to the profiled step):

* ``validation`` — :func:`manualbp.engine.implementation.prepare` and ``check_frozen``:
  parameters and batch checked and cast once;
* ``forward`` — :meth:`Network.forward`: z_l = a_{l-1} W_l^T + b_l and a_l = f(z_l);
* ``backward`` — :meth:`Network.backward`: δ_L, the hidden error terms and every update
  product δ_l^T a_{l-1} (with the step's -η folded into δ_L);
* ``update`` — the rest of the step: θ added into the update products;
* ``products`` — the time inside the three matrix products of the affine layer
  (``Affine.forward``, which adds b too, ``weight_gradient``, ``input_gradient``), part of
  forward and backward; ``elementwise`` is forward + backward - products (activations,
  their derivatives, the loss's output error, bias sums).

The profiler's own cost (a microsecond or so per Python call, about a hundred calls per
step) inflates the smallest networks' steps; the shares are meant for the large ones.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from typing import Any

from benchmarks.problems import Problem
from manualbp import engine
from manualbp.engine.implementation import EngineImplementation, prepare
from manualbp.engine.layers import Affine
from manualbp.engine.network import Network
from manualbp.params import check_frozen

PHASES: tuple[str, ...] = ("validation", "forward", "backward", "update")


def _key(function: Callable[..., Any]) -> tuple[str, int, str]:
    """pstats' key of a Python function: (file, first line, name)."""
    code = function.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def engine_phases(problem: Problem, steps: int) -> dict[str, float]:
    """Seconds per step of each phase (``PHASES``, ``products``, ``elementwise``, ``total``)
    over ``steps`` profiled calls of ``engine.step`` on ``problem``."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(steps):
        engine.step(problem.arch, problem.params, problem.x, problem.y, problem.lr)
    profile.disable()
    table = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def seconds(function: Callable[..., Any], column: int) -> float:
        entry = table.get(_key(function))
        return entry[column] / steps if entry else 0.0

    def cumulative(*functions: Callable[..., Any]) -> float:
        return sum(seconds(function, 3) for function in functions)

    total = cumulative(EngineImplementation.step)
    result = {
        "validation": cumulative(prepare, check_frozen),
        "forward": cumulative(Network.forward),
        "backward": cumulative(Network.backward),
        "products": sum(
            seconds(function, 2)
            for function in (Affine.forward, Affine.weight_gradient, Affine.input_gradient)
        ),
        "total": total,
    }
    result["update"] = total - result["validation"] - result["forward"] - result["backward"]
    result["elementwise"] = result["forward"] + result["backward"] - result["products"]
    return result
