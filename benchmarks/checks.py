"""Issue 6 (c)(d): how fast and how exact the finite-difference check is.

(c) A full element-wise gradient check (every parameter) on [1,8,5,3,1], [4,16,16,3] and
    [20,64,64,10] (batch 16, sigmoid hidden layers, identity output, MSE): our central
    differences and our complex step, each timed twice — the reference slopes alone and the
    whole ``fd.run`` with that one method (noise estimates and Findings included) — against
    ``torch.autograd.gradcheck`` in exact and in ``fast_mode=True``. The slopes run with the
    OpenBLAS threads ``fd.run`` gives a case of that size (``FDOptions.blas_threads``).
    Errors are measured against the float64 torch autograd gradient: norm-wise
    |D - g|_2/|g|_2 and worst entry max_i |D_i - g_i|/|g_i|.
(d) The directional check (K random unit directions, complex step) on
    [1024,2048,2048,1024] (batch 64), in multiples of one ``gradients()`` call.

Everything runs in this process: torch with one intra-op thread (``torch_mirror.threads``),
NumPy with the BLAS threads the environment gives it (OPENBLAS_NUM_THREADS and friends are
recorded in the result).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

import manualbp.engine as engine
from manualbp import torch_mirror
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.checks import fd
from manualbp.checks.fd.elementwise import COMPLEX_STEP
from manualbp.checks.fd.lines import central, central_steps, stencil_offsets
from manualbp.checks.fd.objective import Objective, unit_direction
from manualbp.checks.fd.threads import blas_threads
from manualbp.params import flatten, init_params

ELEMENTWISE_SIZES: tuple[tuple[int, ...], ...] = ((1, 8, 5, 3, 1), (4, 16, 16, 3), (20, 64, 64, 10))
ELEMENTWISE_BATCH = 16
DIRECTIONAL_SIZES = (1024, 2048, 2048, 1024)
#: ``quick``: a smaller network for (d), so that the section runs in seconds.
QUICK_DIRECTIONAL_SIZES = (256, 512, 512, 256)
DIRECTIONAL_BATCH = 64
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def smooth_case(sizes: tuple[int, ...], batch: int, seed: int = 0) -> Case:
    """Sigmoid hidden layers, identity output, MSE averaged over the batch; N(0, 1/fan_in)."""
    depth = len(sizes) - 1
    arch = Architecture(sizes, ("sigmoid",) * (depth - 1) + ("identity",), loss="mse")
    rng = np.random.default_rng(seed)
    params = init_params(arch, rng)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.standard_normal((batch, sizes[-1]))
    return Case(case_id=f"{list(sizes)}x{batch}", arch=arch, params=params, x=x, y=y, seed=seed)


def timed(function: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    """Median, min and max wall seconds of ``repeats`` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    stat = {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds)}
    return {**stat, "runs": repeats}, result


def errors(estimate: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """|D - g|_2/|g|_2 (norm) and max_i |D_i - g_i|/|g_i| over g_i != 0 (worst entry)."""
    difference = np.abs(estimate - exact)
    nonzero = exact != 0
    return {
        "norm": float(np.linalg.norm(difference) / np.linalg.norm(exact)),
        "worst_entry": float(np.max(difference[nonzero] / np.abs(exact[nonzero]))),
    }


def central_slopes(objective: Objective) -> np.ndarray:
    """Fourth-order central differences of every entry, as fd's ``central`` method (P,)."""
    size = objective.size
    h = central_steps(objective.theta)
    offsets = stencil_offsets(1.0)[:, None] * h[None, :]
    values = objective.coordinates(np.tile(np.arange(size), 4), offsets.ravel())
    return central(values.reshape(4, size), h)


def complex_slopes(objective: Objective) -> np.ndarray:
    """Im f(θ + i·h·e_i)/h for every entry, as fd's ``complex_step`` method (P,)."""
    steps = np.full(objective.size, 1j * COMPLEX_STEP)
    return np.imag(objective.coordinates(np.arange(objective.size), steps)) / COMPLEX_STEP


def as_in_fd(slopes: Callable[[Objective], np.ndarray], case: Case) -> np.ndarray:
    """``slopes`` of the case's objective, with the OpenBLAS threads ``fd.run`` uses for a case
    it checks element-wise (as the ``*_check`` rows do)."""
    with blas_threads(fd.FDOptions().blas_threads):
        return slopes(Objective(engine, case))


def plain(impl: Any) -> SimpleNamespace:
    """``impl`` without ``perturbed_losses``: every perturbed loss is one ``loss`` call."""
    return SimpleNamespace(
        loss=impl.loss, gradients=impl.gradients, supports_complex=True, name="plain"
    )


def gradcheck_timer(case: Case, fast_mode: bool) -> Callable[[], bool]:
    """A call of ``torch.autograd.gradcheck`` on E(W1, b1, ...) of the case (float64)."""
    torch = torch_mirror._torch()
    names = case.arch.param_names
    leaves = [torch.tensor(case.params[n], dtype=torch.float64, requires_grad=True) for n in names]
    x = torch.tensor(case.x, dtype=torch.float64)
    y = torch.tensor(case.y, dtype=torch.float64)

    def loss(*tensors: Any) -> Any:
        theta = dict(zip(names, tensors, strict=True))
        return torch_mirror._forward(torch, case.arch, theta, x, y, None)[0]

    return lambda: torch.autograd.gradcheck(loss, tuple(leaves), fast_mode=fast_mode)


def elementwise_row(sizes: tuple[int, ...], repeats: int, unbatched: bool) -> dict[str, Any]:
    """Section (c) on one architecture: every method's time and achieved error."""
    case = smooth_case(sizes, ELEMENTWISE_BATCH)
    exact = flatten(
        case.arch, torch_mirror.backprop(case.arch, case.params, case.x, case.y).gradients
    )
    row: dict[str, Any] = {"section": "c", "sizes": list(sizes), "batch": ELEMENTWISE_BATCH}
    row["parameters"] = int(exact.shape[0])
    with torch_mirror.threads(1):
        for fast_mode in (False, True):
            key = "gradcheck_fast" if fast_mode else "gradcheck_exact"
            row[key], passed = timed(gradcheck_timer(case, fast_mode), repeats)
            row[key]["passed"] = bool(passed)
    for method, slopes in (("central", central_slopes), ("complex_step", complex_slopes)):
        row[f"{method}_slopes"], estimate = timed(lambda s=slopes: as_in_fd(s, case), repeats)
        row[f"{method}_slopes"]["error"] = errors(estimate, exact)
        options = fd.FDOptions(methods=(method,), max_elementwise=exact.shape[0])
        row[f"{method}_check"], findings = timed(
            lambda o=options: list(fd.run(engine, [case], options=o)), repeats
        )
        row[f"{method}_check"]["verdicts"] = sorted({f.verdict for f in findings})
        if unbatched:
            row[f"{method}_check_unbatched"], _ = timed(
                lambda o=options: list(fd.run(plain(engine), [case], options=o)), 1
            )
    gradcheck = row["gradcheck_exact"]["median"]
    for method in ("central", "complex_step"):
        for part in ("slopes", "check"):
            row[f"{method}_{part}"]["speedup"] = gradcheck / row[f"{method}_{part}"]["median"]
    return row


def directional_row(sizes: tuple[int, ...], repeats: int) -> dict[str, Any]:
    """Section (d): the complex-step directional slopes and the whole directional check."""
    case = smooth_case(sizes, DIRECTIONAL_BATCH)
    backward, _ = timed(lambda: engine.gradients(case.arch, case.params, case.x, case.y), repeats)
    options = fd.FDOptions(methods=("directional",))
    objective = Objective(engine, case)
    rng = np.random.default_rng(0)
    directions = [unit_direction(rng, objective.size) for _ in range(options.directions)]
    step = np.array([1j * COMPLEX_STEP])
    slopes, _ = timed(lambda: [objective.along(v, step) for v in directions], repeats)
    check, findings = timed(lambda: list(fd.run(engine, [case], options=options)), 1)
    row: dict[str, Any] = {"section": "d", "sizes": list(sizes), "batch": DIRECTIONAL_BATCH}
    row.update(parameters=objective.size, directions=options.directions, backward=backward)
    row["directional_slopes"] = {**slopes, "backward_passes": slopes["median"] / backward["median"]}
    row["directional_check"] = {**check, "backward_passes": check["median"] / backward["median"]}
    row["directional_check"]["verdicts"] = sorted({f.verdict for f in findings})
    return row


def measure(quick: bool = False) -> dict[str, Any]:
    """Sections (c) and (d) as a JSON-able dict with a "rows" list (one dict per network).

    ``quick``: 3 repeats instead of 7, no unbatched reference run, and (d) on
    [256,512,512,256] instead of [1024,2048,2048,1024].
    """
    repeats = 3 if quick else 7
    rows = [elementwise_row(sizes, repeats, not quick) for sizes in ELEMENTWISE_SIZES]
    rows.append(
        directional_row(QUICK_DIRECTIONAL_SIZES if quick else DIRECTIONAL_SIZES, 3 if quick else 5)
    )
    return {
        "quick": quick,
        "threads": {
            "torch": "1 intra-op thread (torch_mirror.threads(1)), same process",
            "numpy": {name: os.environ.get(name, "unset") for name in THREAD_VARIABLES},
        },
        "rows": rows,
    }


def _ms(stat: dict[str, float]) -> str:
    return f"{stat['median'] * 1e3:.3g} ({stat['min'] * 1e3:.3g}–{stat['max'] * 1e3:.3g})"


def format_table(result: dict[str, Any]) -> str:
    """The measured rows as two plain-text tables: (c) element-wise and (d) directional."""
    lines = [
        "(c) full element-wise gradient check, every parameter, batch 16; time ms median "
        "(min–max); speed-up vs torch gradcheck exact; error vs torch autograd float64 "
        "(norm / worst entry)",
        f"    torch: {result['threads']['torch']}; numpy threads: {result['threads']['numpy']}",
    ]
    for row in result["rows"]:
        if row["section"] != "c":
            continue
        lines.append(f"  {row['sizes']}  P={row['parameters']}")
        for key in ("gradcheck_exact", "gradcheck_fast"):
            stat = row[key]
            lines.append(f"    {key:<32}{_ms(stat):>28}   passed={stat['passed']}")
        for method in ("central", "complex_step"):
            for part in ("slopes", "check"):
                stat = row[f"{method}_{part}"]
                extra = (
                    f"err {stat['error']['norm']:.1e} / {stat['error']['worst_entry']:.1e}"
                    if part == "slopes"
                    else f"verdicts {','.join(stat['verdicts'])}"
                )
                label = f"{method} {part}"
                lines.append(f"    {label:<32}{_ms(stat):>28}   x{stat['speedup']:<7.1f} {extra}")
            unbatched = row.get(f"{method}_check_unbatched")
            if unbatched:
                lines.append(f"    {method + ' check, unbatched':<32}{_ms(unbatched):>28}")
    for row in result["rows"]:
        if row["section"] != "d":
            continue
        lines.append(
            f"(d) directional check, {row['sizes']} batch {row['batch']}, P={row['parameters']}, "
            f"K={row['directions']} complex-step directions; one gradients() = "
            f"{_ms(row['backward'])} ms"
        )
        for key in ("directional_slopes", "directional_check"):
            stat = row[key]
            lines.append(
                f"    {key:<32}{_ms(stat):>28} ms = {stat['backward_passes']:.1f} backward passes"
            )
    return "\n".join(lines)
