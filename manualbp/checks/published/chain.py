"""One step of the chain rule back from a printed MLP figure, as a worked example writes it.

A source computes each figure from a few others it has already computed — Han, Kamber and
Pei's Err6 = O6(1 - O6)(T6 - O6), Mazur's δ_o1 = ∂E/∂out_o1 · ∂out_o1/∂net_o1, w⁺ = w - η·δ·a
— and often from those others *as it printed them*, rounded. :func:`formulas` lists, for an
MLP path, the ways to compute it from its direct inputs (each a path of the same training
state, the previous one for an updated parameter), in the forms the sources write:

=======================  ====================================================================
path                     formulas (inputs)
=======================  ====================================================================
a.l                      f(z)                                     (z.l)
z.l                      Σ_i W[j,i]·a_{l-1}[n,i] + b                (W_l row, a_{l-1} or x, b_l)
loss_terms               r·c·(a - y)²  (squared losses)            (a.L)
loss                     Σ loss_terms  (per-output losses)         (loss_terms)
dE_da.L                  r·∂ℓ/∂a at a (not softmax_ce)             (a.L)
dE_da.l, l < L           Σ_j δ_{l+1}[n,j]·W_{l+1}[j,k]               (δ_{l+1} row, W_{l+1} column)
da_dz.l                  a(1 - a), 1 - a², 1 from the output for sigmoid, tanh, identity
                         (a.l); f'(z) for the others (z.l)
delta.l                  dE_da·da_dz (both); f'(a)·r·∂ℓ/∂a (a.L) at the output, f'(a)·Σ_j
                         δ_{l+1}[n,j]·W_{l+1}[j,k] below (a.l, δ_{l+1}, W_{l+1}) for the
                         activations written from the output
grad.W_l[i,j]            Σ_n δ_l[n,i]·a_{l-1}[n,j]                   (δ_l column, a_{l-1} column)
grad.b_l                 Σ_n δ_l[n,i] (Σ over the units too when shared)
stepK.W, stepK.b         θ - η·g (θ and grad.θ at K-1); θ - η·Σ_n δ·a (θ, δ and a at K-1)
=======================  ====================================================================

(r = 1, or 1/N for the ``mean`` reduction; c the squared loss's factor.) The losses and the
derivatives of the activations that are not written from the output come from the torch
mirror, never from an implementation under test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.architecture import Architecture
from manualbp.checks.published.paths import Path, mlp_path
from manualbp.checks.published.problems import MLPProblem
from manualbp.facts import LOSS_FACTS

#: Activations whose derivative a source writes from the output a: f'(z) = g(a).
FROM_OUTPUT: dict[str, Callable[[float], float]] = {
    "sigmoid": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a * a,
    "identity": lambda a: 1.0,
}


@dataclass(frozen=True)
class Formula:
    """One way to compute a path from its direct inputs: ``text`` says how (in words),
    ``inputs`` are scalar paths, ``compute`` takes their numbers in that order."""

    text: str
    inputs: tuple[Path, ...]
    compute: Callable[[Sequence[float]], float]


def activate(activation: str, z: float) -> float:
    """f(z) by the torch mirror (a one-unit network of that activation)."""
    arch = Architecture(sizes=(1, 1), activations=(activation,), loss="half_sse", bias="none")
    batch = np.array([[z]], dtype=np.float64)
    values = mirror.intermediates(arch, {"W1": np.ones((1, 1))}, batch, np.zeros((1, 1)))
    return float(values["a"][0][0, 0])


def slope(activation: str, z: float) -> float:
    """f'(z) by the torch mirror."""
    return float(mirror.activation_derivative(activation, np.array([z]))[0])


def _output_entry(problem: MLPProblem, n: int, k: int, a: float, gradient: bool) -> float:
    """r·ℓ_k (or r·∂ℓ/∂a_k) of sample n with the output a_L[n,k] = ``a``, by the mirror."""
    outputs = np.full(problem.y.shape, 0.5)
    outputs[n, k] = a
    function = mirror.output_loss_gradient if gradient else mirror.output_loss_terms
    return float(function(problem.arch, outputs, outputs, problem.y)[n, k])


class Chain:
    """The formulas of the paths of one worked example (module docstring)."""

    def __init__(self, problem: MLPProblem) -> None:
        self.problem = problem
        self.arch = problem.arch

    def formulas(self, path: Path) -> list[Formula]:
        """The ways a source computes ``path`` from its direct inputs ([] for a number the
        file gives: x, y, an initial parameter)."""
        reader = {
            "a": self._activation,
            "z": self._net,
            "loss_terms": self._loss_terms,
            "loss": self._loss,
            "dE_da": self._dE_da,
            "da_dz": self._da_dz,
            "delta": self._delta,
            "grad": self._gradient,
            "param": self._update,
        }.get(path.quantity)
        return reader(path) if reader is not None else []

    def _at(self, quantity: str, path: Path, **fields: object) -> Path:
        return mlp_path(quantity, steps=path.steps, **fields)  # type: ignore[arg-type]

    def _below(self, path: Path, layer: int, n: int, i: int) -> Path:
        """a_{layer}[n,i], or x[n,i] for layer 0."""
        if layer == 0:
            return mlp_path("x", index=(n, i))
        return self._at("a", path, layer=layer, index=(n, i))

    def _activation(self, path: Path) -> list[Formula]:
        name = self.arch.activations[path.layer - 1]
        z = self._at("z", path, layer=path.layer, index=path.index)
        return [Formula(f"a = {name}(z)", (z,), lambda v: activate(name, v[0]))]

    def _net(self, path: Path) -> list[Formula]:
        layer, (n, j) = path.layer, path.index
        width = self.arch.sizes[layer - 1]
        weights = [self._at("param", path, name=f"W{layer}", index=(j, i)) for i in range(width)]
        below = [self._below(path, layer - 1, n, i) for i in range(width)]
        bias = {
            "per_unit": [self._at("param", path, name=f"b{layer}", index=(j,))],
            "shared": [self._at("param", path, name=f"b{layer}")],
            "none": [],
        }[self.arch.bias]

        def net(v: Sequence[float]) -> float:
            return sum(w * a for w, a in zip(v[:width], v[width : 2 * width], strict=True)) + sum(
                v[2 * width :]
            )

        return [Formula("z = Σ w·a + b", (*weights, *below, *bias), net)]

    def _loss_terms(self, path: Path) -> list[Formula]:
        if not LOSS_FACTS[self.arch.loss].squared:
            return []
        n, k = path.index
        a = self._at("a", path, layer=self.arch.depth, index=(n, k))
        return [
            Formula(
                "E_k = r·c·(a - y)²", (a,), lambda v: _output_entry(self.problem, n, k, v[0], False)
            )
        ]

    def _loss(self, path: Path) -> list[Formula]:
        if not LOSS_FACTS[self.arch.loss].per_output_terms:
            return []
        rows, outputs = self.problem.y.shape
        terms = tuple(
            self._at("loss_terms", path, index=(n, k)) for n in range(rows) for k in range(outputs)
        )
        return [Formula("E = Σ E_k", terms, lambda v: float(sum(v)))]

    def _dE_da(self, path: Path) -> list[Formula]:
        n, k = path.index
        if path.layer == self.arch.depth:
            if self.arch.loss == "softmax_ce":
                return []
            a = self._at("a", path, layer=path.layer, index=(n, k))
            return [
                Formula(
                    "∂E/∂a = r·∂ℓ/∂a", (a,), lambda v: _output_entry(self.problem, n, k, v[0], True)
                )
            ]
        return [self._back(path, n, k)]

    def _back(self, path: Path, n: int, k: int) -> Formula:
        """Σ_j δ_{l+1}[n,j]·W_{l+1}[j,k], the error sent back to unit k of layer l."""
        upper = path.layer + 1
        units = self.arch.sizes[upper]
        deltas = [self._at("delta", path, layer=upper, index=(n, j)) for j in range(units)]
        weights = [self._at("param", path, name=f"W{upper}", index=(j, k)) for j in range(units)]
        return Formula(
            "Σ δ·w",
            (*deltas, *weights),
            lambda v: float(sum(d * w for d, w in zip(v[:units], v[units:], strict=True))),
        )

    def _da_dz(self, path: Path) -> list[Formula]:
        name = self.arch.activations[path.layer - 1]
        if name in FROM_OUTPUT:
            a = self._at("a", path, layer=path.layer, index=path.index)
            return [Formula(f"{name}'(z) from a", (a,), lambda v: FROM_OUTPUT[name](v[0]))]
        z = self._at("z", path, layer=path.layer, index=path.index)
        return [Formula(f"{name}'(z)", (z,), lambda v: slope(name, v[0]))]

    def _delta(self, path: Path) -> list[Formula]:
        n, k = path.index
        name = self.arch.activations[path.layer - 1]
        output = path.layer == self.arch.depth
        found = []
        if not (output and self.arch.loss == "softmax_ce"):
            parts = (
                self._at("dE_da", path, layer=path.layer, index=(n, k)),
                self._at("da_dz", path, layer=path.layer, index=(n, k)),
            )
            found.append(Formula("δ = ∂E/∂a · ∂a/∂z", parts, lambda v: v[0] * v[1]))
        if name not in FROM_OUTPUT or (output and self.arch.loss == "softmax_ce"):
            return found
        a = self._at("a", path, layer=path.layer, index=(n, k))
        derivative = FROM_OUTPUT[name]
        if output:
            found.append(
                Formula(
                    f"δ = r·∂ℓ/∂a · {name}'(a)",
                    (a,),
                    lambda v: _output_entry(self.problem, n, k, v[0], True) * derivative(v[0]),
                )
            )
        else:
            back = self._back(path, n, k)
            found.append(
                Formula(
                    f"δ = {name}'(a) · Σ δ·w",
                    (a, *back.inputs),
                    lambda v: derivative(v[0]) * back.compute(v[1:]),
                )
            )
        return found

    def _gradient(self, path: Path) -> list[Formula]:
        layer = int(path.name[1:])
        rows = self.problem.x.shape[0]
        if path.name.startswith("W"):
            i, j = path.index
            deltas = [self._at("delta", path, layer=layer, index=(n, i)) for n in range(rows)]
            below = [self._below(path, layer - 1, n, j) for n in range(rows)]
            return [
                Formula(
                    "∂E/∂w = Σ δ·a",
                    (*deltas, *below),
                    lambda v: float(sum(d * a for d, a in zip(v[:rows], v[rows:], strict=True))),
                )
            ]
        units = range(self.arch.sizes[layer]) if not path.index else path.index
        deltas = tuple(
            self._at("delta", path, layer=layer, index=(n, i)) for n in range(rows) for i in units
        )
        return [Formula("∂E/∂b = Σ δ", deltas, lambda v: float(sum(v)))]

    def _update(self, path: Path) -> list[Formula]:
        if not path.steps or path.name in self.problem.frozen or self.problem.learning_rate is None:
            return []
        rate = self.problem.learning_rate
        before = mlp_path("param", steps=path.steps - 1, name=path.name, index=path.index)
        gradient = mlp_path("grad", steps=path.steps - 1, name=path.name, index=path.index)
        found = [Formula("θ⁺ = θ - η·g", (before, gradient), lambda v: v[0] - rate * v[1])]
        for expanded in self._gradient(gradient):
            found.append(
                Formula(
                    f"θ⁺ = θ - η·({expanded.text.split(' = ')[1]})",
                    (before, *expanded.inputs),
                    lambda v, g=expanded: v[0] - rate * g.compute(v[1:]),
                )
            )
        return found
