"""A timing worker: one process that times either the engine or torch, never both.

``python -m benchmarks.worker engine|torch`` reads one JSON request per line on stdin and
answers one JSON line on stdout. Keeping each side in its own process means OpenBLAS's and
torch's thread pools never share a process, so neither spins against the other; the
parent (:mod:`benchmarks.runner`) alternates requests between the two workers.

Requests:
    {"op": "gemm", "n": n, "threads": t}        -> {"seconds": one (n, n) @ (n, n) product}
                                                   (t threads, or the default when null)
    {"op": "step", "sizes": [...], "batch": N, "loss": name, "seed": s}
        -> {"seconds": one step, "inner": steps per timed block, "loss": E(θ0),
            "update_norm": ‖θ1 - θ0‖}
    {"op": "phases", same fields as step, "steps": k}
        -> seconds per step of each phase of the engine's step (engine side only)
    {"op": "products", "sizes": [...], "batch": N, "seed": s}
        -> {"seconds": the step's matrix products alone, by this side's library}
    {"op": "info"}                              -> versions and thread counts of this side
    {"op": "quit"}
A step is one training step: forward, backward and the gradient-descent update of every
parameter. The engine's is ``manualbp.engine.step`` (validation included; new parameters
returned, the inputs untouched), torch's is autograd with ``torch.optim.SGD`` (gradients
set to None, then updated in place), the way each is used in a training loop. The first
request for a problem takes one step from θ0 on each side, whose E(θ0) and ‖θ1 - θ0‖ say
whether both computed the same step, warms up, then picks ``inner`` so that one timed
block lasts at least MIN_BLOCK seconds; later requests time one block and report its time
per step.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.phases import engine_phases
from benchmarks.problems import Problem, make_problem, product_operands, product_pairs

#: Shortest timed block: tiny steps are repeated until the block is at least this long.
MIN_BLOCK = 0.02
Step = Callable[[], None]
#: What the first step from θ0 computed: {"loss": E(θ0), "update_norm": ‖θ1 - θ0‖}.
FirstStep = dict[str, float]


def _distance(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> float:
    """‖θ1 - θ0‖ over every parameter."""
    return math.sqrt(sum(float(np.sum((after[k] - before[k]) ** 2)) for k in before))


def engine_step(problem: Problem) -> tuple[Step, FirstStep]:
    """``manualbp.engine.step`` on θ0 (each call a new step from the same parameters)."""
    from manualbp import engine

    def step() -> None:
        engine.step(problem.arch, problem.params, problem.x, problem.y, problem.lr)

    after = engine.step(problem.arch, problem.params, problem.x, problem.y, problem.lr)
    first = {
        "loss": engine.loss(problem.arch, problem.params, problem.x, problem.y),
        "update_norm": _distance(problem.params, after),
    }
    return step, first


def torch_step(problem: Problem) -> tuple[Step, FirstStep]:
    """Plain torch autograd on a copy of the same weights: z_l = a_{l-1} W_l^T + b_l,
    sigmoid hidden layers, the loss averaged over the batch (cross-entropy against the
    class probabilities y, or ½Σ(σ(z) - y)²), backward, SGD step in place."""
    import torch

    arch = problem.arch
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in problem.params.items()}
    x, y = torch.from_numpy(problem.x), torch.from_numpy(problem.y)
    optimizer = torch.optim.SGD(list(leaves.values()), lr=problem.lr)

    def loss() -> Any:
        a = x
        for layer in range(1, arch.depth + 1):
            z = torch.addmm(leaves[f"b{layer}"], a, leaves[f"W{layer}"].T)
            a = torch.sigmoid(z) if layer < arch.depth else z
        if arch.loss == "softmax_ce":
            return torch.nn.functional.cross_entropy(a, y)
        return 0.5 * ((torch.sigmoid(a) - y) ** 2).sum() / x.shape[0]

    def step() -> Any:
        optimizer.zero_grad()
        E = loss()
        E.backward()
        optimizer.step()
        return E

    before = {k: v.detach().numpy().copy() for k, v in leaves.items()}
    E = step()
    after = {k: v.detach().numpy() for k, v in leaves.items()}
    return step, {"loss": float(E.detach()), "update_norm": _distance(before, after)}


STEPPERS: dict[str, Callable[[Problem], tuple[Step, FirstStep]]] = {
    "engine": engine_step,
    "torch": torch_step,
}


def gemm_seconds(side: str, n: int, threads: int | None = None, seed: int = 0) -> float:
    """Wall time of one float64 product (n, n) @ (n, n) by NumPy or torch, after a warm-up,
    with ``threads`` BLAS (NumPy) or intra-op (torch) threads, or the default when None."""
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    if side == "torch":
        import torch

        A, B = torch.from_numpy(A), torch.from_numpy(B)
        default = torch.get_num_threads()
        torch.set_num_threads(threads or default)
        try:
            return _product_seconds(A, B)
        finally:
            torch.set_num_threads(default)
    with threadpool_limits(limits=threads, user_api="blas"):
        return _product_seconds(A, B)


def _product_seconds(A: Any, B: Any) -> float:
    A @ B
    started = time.perf_counter()
    A @ B
    return time.perf_counter() - started


def products(side: str, sizes: tuple[int, ...], batch: int, seed: int) -> Step:
    """The matrix products of one step, in the engine's layouts, by NumPy or torch: per layer
    a_{l-1} W_l^T, δ_l^T a_{l-1} and, above the first layer, δ_l W_l (the BLAS floor of a
    step; their FLOPs are :func:`benchmarks.problems.step_flops`)."""
    layers: list[tuple[Any, ...]] = list(product_operands(sizes, batch, seed))
    if side == "torch":
        import torch

        layers = [tuple(torch.from_numpy(m) for m in layer) for layer in layers]
    pairs = product_pairs(layers)

    def step() -> None:
        for left, right in pairs:
            left @ right

    return step


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


@dataclass
class Timed:
    """One prepared problem: its step, its first step's figures, its problem (None for the
    products alone) and the steps per timed block."""

    step: Step
    first: FirstStep
    problem: Problem | None
    inner: int


class Worker:
    """Holds the prepared problems, at most ``KEEP`` at a time (to bound memory): a step and
    its products alone, timed in turn."""

    KEEP = 2

    def __init__(self, side: str) -> None:
        self.side = side
        self.prepared: dict[tuple, Timed] = {}

    def prepare(self, sizes: tuple[int, ...], batch: int, loss: str, seed: int) -> Timed:
        """Build the problem's step on first sight (its first step from θ0 recorded), warm
        it up and choose ``inner``; ``loss`` "products" stands for the step's matrix
        products alone (:func:`products`)."""
        key = (sizes, batch, loss, seed)
        if key not in self.prepared:
            while len(self.prepared) >= self.KEEP:  # release the oldest first
                del self.prepared[next(iter(self.prepared))]
            if loss == "products":
                problem, step, first = None, products(self.side, sizes, batch, seed), {}
            else:
                problem = make_problem(sizes, batch, seed, loss)
                step, first = STEPPERS[self.side](problem)
            step()  # warm-up: first-call allocations and lazy imports
            started = time.perf_counter()
            step()
            once = max(time.perf_counter() - started, 1e-7)
            inner = max(1, math.ceil(MIN_BLOCK / once))
            self.prepared[key] = Timed(step, first, problem, inner)
        return self.prepared[key]

    def time_step(self, sizes: tuple[int, ...], batch: int, loss: str, seed: int) -> dict[str, Any]:
        """Seconds per step over one block of ``inner`` steps, and the first step's E(θ0)
        and ‖θ1 - θ0‖ (none for the products alone)."""
        timed = self.prepare(sizes, batch, loss, seed)
        started = time.perf_counter()
        for _ in range(timed.inner):
            timed.step()
        seconds = (time.perf_counter() - started) / timed.inner
        return {"seconds": seconds, "inner": timed.inner, **timed.first}

    def phases(
        self, sizes: tuple[int, ...], batch: int, loss: str, seed: int, steps: int
    ) -> dict[str, float]:
        """The engine's step per phase (:func:`benchmarks.phases.engine_phases`)."""
        if self.side != "engine":
            raise ValueError(f"phases: got side {self.side!r}, only the engine is profiled")
        problem = self.prepare(sizes, batch, loss, seed).problem
        assert problem is not None
        return engine_phases(problem, steps)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request (see the module docstring)."""
        op = request["op"]
        if op == "gemm":
            threads = request.get("threads")
            return {"seconds": gemm_seconds(self.side, int(request["n"]), threads)}
        if op == "products":
            sizes = tuple(int(n) for n in request["sizes"])
            return self.time_step(sizes, int(request["batch"]), "products", int(request["seed"]))
        if op in ("step", "phases"):
            sizes = tuple(int(n) for n in request["sizes"])
            problem = (sizes, int(request["batch"]), str(request["loss"]), int(request["seed"]))
            if op == "step":
                return self.time_step(*problem)
            return self.phases(*problem, int(request["steps"]))
        if op == "info":
            return side_info(self.side)
        raise ValueError(f"op: got {op!r}, expected gemm, step, products, phases, info or quit")


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
