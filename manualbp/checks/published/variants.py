"""Other computations a source may have made: the values the explanations of a figure try.

Each is computed from the implementation under test through the protocol, as far as the
protocol allows (:class:`~manualbp.checks.published.values.MLPValues` with another
learning rate or another update):

* a loss factor c — the source's loss is c·E: every quantity linear in the loss (``loss``,
  ``loss_terms``, ``dE_da``, ``delta``, ``grad``) is c times the implementation's, and
  training with c·E is training with the rate c·η (θ - η∇(cE) = θ - cη∇E);
* one update more or less — the same training, read after K - 1 or K + 1 updates;
* the output layer first — each layer updated before the error terms of the layer below are
  taken (the hidden error terms use the already-updated weights above, as code that
  updates w5..w8 before computing the hidden deltas does). The output layer's update is the
  implementation's ``step``; below it, from the implementation's ``intermediates`` at θ
  (δ_L, z_l, a_l), δ'_l = (δ'_{l+1} W⁺_{l+1}) ⊙ f'(z_l) with the mirror's f' and
  θ⁺_l = θ_l - η·∇θ_l from δ'_l. An implementation without ``step`` and ``intermediates``
  cannot be asked this (:class:`~manualbp.protocol.Unsupported`).

:func:`mirror_values` are the same paths computed by the torch mirror, which confirms that
the implementation's value is right before a disagreement is blamed on the source.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from manualbp import torch_mirror as mirror
from manualbp.checks.published.paths import Path, mlp_path
from manualbp.checks.published.problems import MLPProblem
from manualbp.checks.published.values import MLPValues, Update, checked_intermediates
from manualbp.params import Params
from manualbp.protocol import Unsupported, call

#: Quantities proportional to the loss: a loss c·E makes each of them c times larger.
LINEAR_IN_LOSS: frozenset[str] = frozenset({"loss", "loss_terms", "dE_da", "delta", "grad"})


def factors(problem: MLPProblem) -> list[tuple[float, str]]:
    """The loss factors tried, with what each means: 2 and ½ (Σ(t - o)² against ½Σ(t - o)²),
    K and 1/K (a sum against a mean over the K outputs), N and 1/N (over the N samples)."""
    rows, outputs = problem.y.shape
    named = [
        (2.0, "twice the file's loss (Σ(t - o)² where the file has ½Σ(t - o)²)"),
        (0.5, "half the file's loss (½Σ(t - o)² where the file has Σ(t - o)²)"),
        (float(outputs), f"summed over the K = {outputs} outputs where the file averages them"),
        (1.0 / outputs, f"averaged over the K = {outputs} outputs where the file sums them"),
        (float(rows), f"summed over the N = {rows} samples where the file averages them"),
        (1.0 / rows, f"averaged over the N = {rows} samples where the file sums them"),
    ]
    found: list[tuple[float, str]] = []
    for factor, words in named:
        if factor != 1.0 and all(abs(factor - seen) > 1e-12 for seen, _ in found):
            found.append((factor, words))
    return found


class Variants:
    """The values of one worked example's paths under the variants (module docstring),
    each trajectory computed once and kept."""

    def __init__(self, values: MLPValues) -> None:
        self.values = values
        self.problem = values.problem
        self._scaled: dict[float, MLPValues] = {}
        self._output_first: MLPValues | None = None

    def with_factor(self, path: Path, factor: float) -> float:
        """The value of ``path`` when the source's loss is ``factor``·E."""
        scale = factor if path.quantity in LINEAR_IN_LOSS else 1.0
        if not path.steps:
            return scale * self.values.value(path)
        if factor not in self._scaled:
            rate = self.problem.learning_rate
            assert rate is not None  # a path after updates needs the file's learning rate
            scaled = replace(self.problem, learning_rate=factor * rate)
            self._scaled[factor] = MLPValues(self.values.impl, scaled)
        return scale * self._scaled[factor].value(path)

    def after(self, path: Path, steps: int) -> float:
        """The value of ``path`` read after ``steps`` updates instead of its own."""
        moved = mlp_path(
            path.quantity, steps=steps, layer=path.layer, name=path.name, index=path.index
        )
        return self.values.value(moved)

    def output_first(self, path: Path) -> float:
        """The value of ``path`` when every layer is updated before the error terms of the
        layer below are taken."""
        capabilities = self.values.capabilities
        if not (capabilities.step and capabilities.intermediates):
            raise Unsupported("needs step() and intermediates()")
        if self._output_first is None:
            self._output_first = MLPValues(self.values.impl, self.problem, self._update())
        return self._output_first.value(path)

    def _update(self) -> Update:
        values, p = self.values, self.problem
        arch, rate = p.arch, p.learning_rate
        assert rate is not None

        def update(params: Params, number: int) -> Params:
            updated = values.implementation_step(params, number)
            result = call(values.impl, "intermediates", arch, params, p.x.copy(), p.y.copy())
            kept = checked_intermediates(arch, p.x.shape[0], result)
            new = {name: np.array(value, copy=True) for name, value in params.items()}
            top = arch.depth
            for name in (f"W{top}", f"b{top}"):
                if name in updated:
                    new[name] = updated[name]
            delta, upper = kept["delta"][top - 1], new[f"W{top}"]
            for layer in range(top - 1, 0, -1):
                activation = arch.activations[layer - 1]
                delta = (delta @ upper) * mirror.activation_derivative(
                    activation, kept["z"][layer - 1]
                )
                below = kept["a"][layer - 2] if layer > 1 else p.x
                grads = {f"W{layer}": delta.T @ below}
                if arch.bias == "per_unit":
                    grads[f"b{layer}"] = delta.sum(axis=0)
                elif arch.bias == "shared":
                    grads[f"b{layer}"] = np.asarray(delta.sum())
                for name, gradient in grads.items():
                    if name not in p.frozen:
                        new[name] = params[name] - rate * gradient
                upper = new[f"W{layer}"]
            return new

        return update


def mirror_values(problem: MLPProblem) -> MLPValues:
    """Every path of ``problem`` computed by the float64 torch mirror (its own loss,
    autograd gradients and error terms, and its own update θ - η·g)."""
    return MLPValues(mirror, problem)
