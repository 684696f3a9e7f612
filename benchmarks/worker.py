"""A timing worker: one process that times either the engine or torch, never both.

``python -m benchmarks.worker engine|torch`` reads one JSON request per line on stdin and
answers one JSON line on stdout. Keeping each side in its own process means OpenBLAS's and
torch's thread pools never share a process, so neither spins against the other; the
parent (:mod:`benchmarks.runner`) alternates requests between the two workers.

Requests:
    {"op": "gemm", "n": n}                      -> {"seconds": one (n, n) @ (n, n) product}
    {"op": "step", "sizes": [...], "batch": N, "seed": s}
        -> {"seconds": one step, "inner": steps per timed block, "loss": E, "grad_norm": ‖g‖}
    {"op": "info"}                              -> versions and thread counts of this side
    {"op": "quit"}
A step is forward + loss + backward + the gradient of every parameter. The first request
for a problem warms it up, then picks ``inner`` so that one timed block lasts at least
MIN_BLOCK seconds; later requests time one block and report its time per step.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.problems import Problem, make_problem

#: Shortest timed block: tiny steps are repeated until the block is at least this long.
MIN_BLOCK = 0.02
Step = Callable[[], tuple[float, dict[str, np.ndarray]]]


def engine_step(problem: Problem) -> Step:
    """One step of manualbp.engine through its public protocol ``gradients()``."""
    from manualbp import engine

    def step() -> tuple[float, dict[str, np.ndarray]]:
        return engine.gradients(problem.arch, problem.params, problem.x, problem.y)

    return step


def torch_step(problem: Problem) -> Step:
    """One step of plain torch autograd on the same weights: z_l = a_{l-1} W_l^T + b_l,
    relu hidden, identity output, E = mean_n (1/K) Σ_k (a_k - y_k)², then ∂E/∂θ."""
    import torch

    arch = problem.arch
    leaves = {k: torch.from_numpy(v).requires_grad_() for k, v in problem.params.items()}
    x, y = torch.from_numpy(problem.x), torch.from_numpy(problem.y)

    def step() -> tuple[float, dict[str, np.ndarray]]:
        a = x
        for layer in range(1, arch.depth + 1):
            z = torch.addmm(leaves[f"b{layer}"], a, leaves[f"W{layer}"].T)
            a = torch.relu(z) if layer < arch.depth else z
        E = ((a - y) ** 2).mean()
        grads = torch.autograd.grad(E, list(leaves.values()))
        return float(E.detach()), {k: g.numpy() for k, g in zip(leaves, grads, strict=True)}

    return step


STEPPERS: dict[str, Callable[[Problem], Step]] = {"engine": engine_step, "torch": torch_step}


def gemm_seconds(side: str, n: int, seed: int = 0) -> float:
    """Wall time of one float64 product (n, n) @ (n, n) by NumPy or torch, after a warm-up."""
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    if side == "torch":
        import torch

        A, B = torch.from_numpy(A), torch.from_numpy(B)
    A @ B
    started = time.perf_counter()
    A @ B
    return time.perf_counter() - started


def side_info(side: str) -> dict[str, Any]:
    """What shapes this side's speed: versions, BLAS, thread counts and thread env vars."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "env": {
            key: os.environ[key]
            for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if key in os.environ
        },
    }
    if side == "torch":
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        blas = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
        info["torch_blas"] = blas.group(1) if blas else "unknown"
    else:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        info["blas"] = f"{blas['name']} {blas['version']}"
    return info


class Worker:
    """Holds the current problem's step (one problem at a time, to bound memory)."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.key: tuple | None = None
        self.step: Step | None = None
        self.inner = 1

    def prepare(self, sizes: tuple[int, ...], batch: int, seed: int) -> Step:
        """Build the problem's step on first sight, warm it up and choose ``inner``."""
        key = (sizes, batch, seed)
        if key != self.key or self.step is None:
            self.key, self.step = None, None  # release the previous problem first
            step = STEPPERS[self.side](make_problem(sizes, batch, seed))
            step()  # warm-up: first-call allocations and lazy imports
            started = time.perf_counter()
            step()
            once = max(time.perf_counter() - started, 1e-7)
            self.inner = max(1, math.ceil(MIN_BLOCK / once))
            self.key, self.step = key, step
        return self.step

    def time_step(self, sizes: tuple[int, ...], batch: int, seed: int) -> dict[str, Any]:
        """Seconds per step over one block of ``inner`` steps, and the last step's E, ‖g‖."""
        step = self.prepare(sizes, batch, seed)
        started = time.perf_counter()
        for _ in range(self.inner):
            loss, grads = step()
        seconds = (time.perf_counter() - started) / self.inner
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
        return {"seconds": seconds, "inner": self.inner, "loss": loss, "grad_norm": norm}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request (see the module docstring)."""
        op = request["op"]
        if op == "gemm":
            return {"seconds": gemm_seconds(self.side, int(request["n"]))}
        if op == "step":
            sizes = tuple(int(n) for n in request["sizes"])
            return self.time_step(sizes, int(request["batch"]), int(request["seed"]))
        if op == "info":
            return side_info(self.side)
        raise ValueError(f"op: got {op!r}, expected gemm, step, info or quit")


def main(argv: list[str]) -> int:
    """Serve requests until ``quit`` or end of input."""
    if len(argv) != 1 or argv[0] not in STEPPERS:
        print(f"worker: got {argv!r}, expected one argument: engine or torch", file=sys.stderr)
        return 2
    worker = Worker(argv[0])
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        print(json.dumps(worker.handle(request)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
