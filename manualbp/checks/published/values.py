"""Where the value of each path comes from.

* ``mlp`` — from the implementation under test, through the protocol only: ``loss`` for
  ``loss``, ``gradients`` for ``grad.*``, ``intermediates`` for the per-layer values and
  ``step`` (called k times from the file's parameters, with its learning rate and frozen
  names) for every ``stepK.`` or ``trained.`` path. Three per-layer values the protocol does
  not return are derived from what it does return, by the chain rule, with the loss and the
  activation derivative of the torch mirror (never manualbp's engine, which may be the
  subject):

      loss_terms[n,k] = r·ℓ_k(a_L[n,k], y[n,k])       r = 1 (sum) or 1/N (mean), Σ = E
      dE_da.L         = r·∂ℓ/∂a_L  at the implementation's z_L, a_L
      dE_da.l         = δ_{l+1} W_{l+1}   (l < L, the implementation's δ)
      da_dz.l         = f_l'(z_l)  at the implementation's z_l

  The initial parameters, ``x`` and ``y`` are the file's own numbers.
* ``graph`` — the subject's scalar nodes (its ``graph_node`` factory, see
  :mod:`manualbp.protocol`), wired by :func:`manualbp.graphs.run_graph`.
* ``affine`` — the subject's ``affine_layer``.

A method the implementation lacks raises :class:`~manualbp.protocol.Unsupported`; one that
raises or returns something outside the protocol raises
:class:`~manualbp.protocol.ImplementationFault`. Results and failures are cached, so each
method runs once per training state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.checks.published.paths import Path
from manualbp.checks.published.problems import AffineProblem, GraphProblem, MLPProblem
from manualbp.errors import ManualbpError, describe
from manualbp.graphs import NodeFactory, run_graph
from manualbp.params import Params, check_params
from manualbp.protocol import (
    ImplementationFault,
    Unsupported,
    as_loss,
    call,
    capabilities,
    checked_gradients,
)


def checked_intermediates(arch: Architecture, n: int, result: Any) -> dict[str, list[np.ndarray]]:
    """Validate what ``intermediates()`` returned: lists z, a, delta of L finite (n, n_l)
    arrays; raises :class:`ImplementationFault` naming the first problem."""
    if not isinstance(result, Mapping):
        raise ImplementationFault(
            f"intermediates() returned {describe(result)}, expected a dict with z, a, delta"
        )
    checked: dict[str, list[np.ndarray]] = {}
    for key in ("z", "a", "delta"):
        layers = result.get(key)
        if not isinstance(layers, (list, tuple)) or len(layers) != arch.depth:
            raise ImplementationFault(
                f"intermediates()[{key!r}] is {describe(layers)}, expected a list of "
                f"{arch.depth} arrays"
            )
        checked[key] = []
        for layer, value in enumerate(layers, start=1):
            array = np.asarray(value)
            if array.shape != (n, arch.sizes[layer]) or array.dtype.kind not in "iufc":
                raise ImplementationFault(
                    f"intermediates()[{key!r}][{layer - 1}] has shape {array.shape} and dtype "
                    f"{array.dtype}, expected float ({n}, {arch.sizes[layer]})"
                )
            if not np.all(np.isfinite(array)):
                raise ImplementationFault(
                    f"intermediates()[{key!r}][{layer - 1}] contains NaN or inf"
                )
            checked[key].append(np.real(array).astype(np.float64))
    return checked


class _Cache:
    """Memoises a computation's value or the exception it raised, by key."""

    def __init__(self) -> None:
        self._entries: dict[Any, Any] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._entries:
            try:
                self._entries[key] = compute()
            except (Unsupported, ImplementationFault) as exc:
                self._entries[key] = exc
        entry = self._entries[key]
        if isinstance(entry, Exception):
            raise entry
        return entry


#: An update (θ, its number from 1) -> θ' replacing the implementation's ``step`` (a
#: variant of training).
Update = Callable[[Params, int], Params]


class MLPValues:
    """The value of every MLP path, computed by ``impl`` through the protocol.

    ``update`` replaces the implementation's ``step`` for training (the explanations of a
    printed figure try variants of it); by default training calls ``step`` with the file's
    learning rate and frozen names. Training to k updates also keeps the state after k - 1.
    """

    def __init__(self, impl: object, problem: MLPProblem, update: Update | None = None) -> None:
        self.impl = impl
        self.problem = problem
        self.capabilities = capabilities(impl)
        self.update = update or self.implementation_step
        self._cache = _Cache()
        #: parameters after k successful updates, the checkpoints training resumes from
        self._states: dict[int, Params] = {0: problem.params}

    def _args(self, steps: int) -> tuple[Any, ...]:
        p = self.problem
        return (p.arch, self.params(steps), p.x.copy(), p.y.copy())

    def params(self, steps: int) -> Params:
        """θ after ``steps`` calls of ``step`` from the file's parameters (copies)."""
        return {name: value.copy() for name, value in self._state(steps).items()}

    def _state(self, steps: int) -> Params:
        if steps in self._states:
            return self._states[steps]
        return self._cache.get(("state", steps), lambda: self._train(steps))

    def _train(self, steps: int) -> Params:
        start = max(k for k in self._states if k <= steps)
        params = self._states[start]
        for done in range(start, steps):
            if done == steps - 1:
                self._states[done] = params  # the state one update short of ``steps``
            params = self.update({name: value.copy() for name, value in params.items()}, done + 1)
        params = self._checked(params, f"after {steps} update(s)")
        self._states[steps] = params
        return params

    def _checked(self, params: object, when: str) -> Params:
        """``params`` validated against the architecture (an ImplementationFault saying
        ``when`` otherwise)."""
        try:
            return check_params(self.problem.arch, params)  # type: ignore[arg-type]
        except ManualbpError as exc:
            raise ImplementationFault(f"step() {when} returned {exc}") from None

    def implementation_step(self, params: Params, number: int) -> Params:
        """Update ``number`` by the implementation's ``step`` with the file's learning rate
        and frozen names, copied. The first update is validated in full, later ones as far
        as the next call needs (a dict of the parameters): whatever they get wrong reaches
        the state the figures are read from, which :meth:`_train` validates."""
        if not self.capabilities.step:
            raise Unsupported("needs step() for training; the implementation has none")
        p = self.problem
        result = call(
            self.impl, "step", p.arch, params, p.x.copy(), p.y.copy(), p.learning_rate, p.frozen
        )
        if number == 1 or not isinstance(result, Mapping) or result.keys() != params.keys():
            result = self._checked(result, f"call {number}")
        return {name: np.array(value, copy=True) for name, value in result.items()}

    def loss(self, steps: int) -> float:
        """E from ``loss()`` at the state after ``steps`` updates."""
        return self._cache.get(
            ("loss", steps),
            lambda: float(np.real(as_loss(call(self.impl, "loss", *self._args(steps))))),
        )

    def gradients(self, steps: int) -> dict[str, np.ndarray]:
        """∂E/∂θ from ``gradients()`` at the state after ``steps`` updates."""

        def compute() -> dict[str, np.ndarray]:
            result = call(self.impl, "gradients", *self._args(steps))
            return checked_gradients(self.problem.arch, result)[1]

        return self._cache.get(("gradients", steps), compute)

    def intermediates(self, steps: int) -> dict[str, list[np.ndarray]]:
        """z, a, δ per layer from ``intermediates()`` at the state after ``steps`` updates."""

        def compute() -> dict[str, list[np.ndarray]]:
            if not self.capabilities.intermediates:
                raise Unsupported("needs intermediates(); the implementation has none")
            result = call(self.impl, "intermediates", *self._args(steps))
            return checked_intermediates(self.problem.arch, self.problem.x.shape[0], result)

        return self._cache.get(("intermediates", steps), compute)

    def array(self, path: Path) -> np.ndarray:
        """The whole array (or 0-d array) that ``path`` indexes."""
        p, q, k = self.problem, path.quantity, path.steps
        if q == "x":
            return p.x
        if q == "y":
            return p.y
        if q == "param":
            return self._state(k)[path.name]
        if q == "loss":
            return np.asarray(self.loss(k))
        if q == "grad":
            return np.real(np.asarray(self.gradients(k)[path.name]))
        values = self.intermediates(k)
        if q in ("z", "a", "delta"):
            return values[q][path.layer - 1]
        z, a = values["z"][path.layer - 1], values["a"][path.layer - 1]
        if q == "da_dz":
            return mirror.activation_derivative(p.arch.activations[path.layer - 1], z)
        if q == "loss_terms":
            return mirror.output_loss_terms(p.arch, values["z"][-1], values["a"][-1], p.y)
        if path.layer == p.arch.depth:  # dE_da of the output layer
            return mirror.output_loss_gradient(p.arch, z, a, p.y)
        return values["delta"][path.layer] @ self._state(k)[f"W{path.layer + 1}"]

    def value(self, path: Path) -> float:
        """The number ``path`` names."""
        return float(self.array(path)[path.index])


def graph_values(problem: GraphProblem, make_node: NodeFactory) -> Callable[[Path], float]:
    """``value.NAME`` and ``grad.NAME`` (∂output/∂NAME) computed with the subject's nodes
    (``make_node(operation)``), wired by :func:`manualbp.graphs.run_graph`."""
    values, grads = run_graph(problem.operations, problem.leaves, problem.output, make_node)

    def value(path: Path) -> float:
        return float((values if path.quantity == "value" else grads)[path.name])

    return value


def affine_values(
    problem: AffineProblem, affine_layer: Callable[[str], Any]
) -> Callable[[Path], float]:
    """The inputs, z = x·Wᵀ + b and the three gradients from the subject's affine layer
    (``affine_layer(bias)`` with ``forward(x, W, b) -> (z, cache)`` and ``backward(dz, cache)
    -> (dx, dW, db)``, W in (out, in)); ``W`` and ``grad.W`` in the file's weight layout."""
    layer = affine_layer(problem.bias)
    z, cache = layer.forward(problem.x, problem.W_out_in, problem.b)
    d_x, d_W, d_b = layer.backward(problem.dz, cache)
    arrays = {
        "x": problem.x,
        "W": problem.W,
        "b": problem.b,
        "dz": problem.dz,
        "z": z,
        "grad.x": d_x,
        "grad.W": d_W if problem.weight_layout == "out_in" else d_W.T,
        "grad.b": d_b,
    }

    def value(path: Path) -> float:
        return float(np.asarray(arrays[path.quantity])[path.index])

    return value
