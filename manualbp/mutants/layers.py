"""Layer mutants: hand-written layers with one realistic bug each, and the diagnosis it should get.

They prove that the layer check (:mod:`manualbp.checks.layer`) catches the usual layer bugs
and names them. Each :class:`LayerMutant` is a layer of an asserted kind — a CS231n-style
pair built on :mod:`manualbp.layers.functional` with one formula changed, or a Saito-style
class — with its bug in one line (``description``), the ``diagnosis`` kind the check should
reach (one of :data:`~manualbp.checks.layer.diagnosis.LAYER_DIAGNOSES`) and the
:class:`~manualbp.checks.layer.LayerSpace` on which the bug shows.

The functions and classes are module attributes, so the command line checks one as
``--layer manualbp.mutants.layers:affine_db_not_summed --as affine`` (a functional mutant
is the pair ``<identifier>_forward`` / ``<identifier>_backward``, a loss ``<identifier>_loss``).
:func:`mutant_findings` runs the check on one mutant; ``manualbp selftest`` runs them all and
counts the cases caught (:func:`manualbp.selftest.kills`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from manualbp.checks.layer import KINDS, LAYER_DIAGNOSES, LayerSpace, LayerSubject, run
from manualbp.errors import UsageError
from manualbp.findings import CHECKS, Finding
from manualbp.layers import functional as F

MODULE = "manualbp.mutants.layers"


@dataclass(frozen=True)
class LayerMutant:
    """A layer with one bug: ``name`` (dashes), what is wrong (``description``), the subject
    to check (kind asserted), the expected ``diagnosis`` kind and the ``space`` where the
    bug shows."""

    name: str
    description: str
    subject: LayerSubject
    diagnosis: str
    space: LayerSpace

    def __post_init__(self) -> None:
        if self.diagnosis not in LAYER_DIAGNOSES:
            raise UsageError(f"diagnosis of {self.name}: got {self.diagnosis!r}")
        if not self.description or "\n" in self.description:
            raise UsageError(f"description of {self.name}: expected one non-empty line")


# --- the buggy layers --------------------------------------------------------------------


affine_db_not_summed_forward = F.affine_forward


def affine_db_not_summed_backward(dout: np.ndarray, cache: Any) -> tuple:
    """db = dout (N, M): the bias gradient is not summed over the batch."""
    dx, dw, _ = F.affine_backward(dout, cache)
    return dx, dw, dout


affine_dx_transposed_forward = F.affine_forward


def affine_dx_transposed_backward(dout: np.ndarray, cache: Any) -> tuple:
    """dx = (dout·wᵀ)ᵀ (D, N) instead of dout·wᵀ (N, D)."""
    x, w = cache
    return (dout @ w.T).T, x.T @ dout, dout.sum(axis=0)


relu_mask_dropped_forward = F.relu_forward


def relu_mask_dropped_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout: the mask x > 0 is forgotten."""
    return dout.copy()


def relu_forward_in_place_forward(x: np.ndarray) -> tuple:
    """max(0, x) computed by writing zeros into the caller's x."""
    x[x < 0] = 0.0
    return x, x


relu_forward_in_place_backward = F.relu_backward


sigmoid_layer_derivative_at_output_forward = F.sigmoid_forward


def sigmoid_layer_derivative_at_output_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout·σ'(σ(x)): the derivative taken at the output instead of the input."""
    out = F.sigmoid_forward(cache)[0]
    return F.sigmoid_backward(dout, out)


multiply_swapped_inputs_forward = F.multiply_forward


def multiply_swapped_inputs_backward(dout: np.ndarray, cache: Any) -> tuple:
    """(dx, dy) = (dout·x, dout·y): each input gets its own value, not the other's."""
    x, y = cache
    return dout * x, dout * y


add_dy_zero_forward = F.add_forward


def add_dy_zero_backward(dout: np.ndarray, cache: Any) -> tuple:
    """(dx, dy) = (dout, 0): the addition node forgets its second input."""
    return dout * 1.0, np.zeros_like(dout)


max_gradient_to_both_forward = F.max_forward


def max_gradient_to_both_backward(dout: np.ndarray, cache: Any) -> tuple:
    """(dx, dy) = (dout, dout): dout goes to both inputs, not to the larger one."""
    return dout * 1.0, dout * 1.0


batchnorm_mean_terms_missing_forward = F.batchnorm_forward


def batchnorm_mean_terms_missing_backward(dout: np.ndarray, cache: Any) -> tuple:
    """dx = gamma·dout/σ: μ and σ² treated as constants (no terms through the batch)."""
    _, dgamma, dbeta = F.batchnorm_backward(dout, cache)
    _, gamma, std = cache
    return gamma * dout / std, dgamma, dbeta


batchnorm_dgamma_not_summed_forward = F.batchnorm_forward


def batchnorm_dgamma_not_summed_backward(dout: np.ndarray, cache: Any) -> tuple:
    """dgamma = dout·x̂ (N, D): not summed over the batch."""
    dx, _, dbeta = F.batchnorm_backward(dout, cache)
    return dx, dout * cache[0], dbeta


def dropout_not_rescaled_forward(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple:
    """out = x·mask, mask ~ Bernoulli(p): the kept entries are not divided by p."""
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = rng.random(x.shape) < dropout_param["p"]
    return x * mask, mask


def dropout_not_rescaled_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout·mask: consistent with its own (unscaled) forward."""
    return dout * cache


dropout_mask_dropped_forward = F.dropout_forward


def dropout_mask_dropped_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout/p everywhere: the mask is not applied in backward."""
    return dout * float(np.max(cache))


conv2d_dw_flipped_forward = F.conv2d_forward


def conv2d_dw_flipped_backward(dout: np.ndarray, cache: Any) -> tuple:
    """dw with both kernel axes reversed (convolution where the forward cross-correlates)."""
    dx, dw, db = F.conv2d_backward(dout, cache)
    return dx, dw[:, :, ::-1, ::-1].copy(), db


conv2d_db_not_summed_forward = F.conv2d_forward


def conv2d_db_not_summed_backward(dout: np.ndarray, cache: Any) -> tuple:
    """db = Σ_{i,j} dout (N, F): summed over positions, not over the batch."""
    dx, dw, _ = F.conv2d_backward(dout, cache)
    return dx, dw, dout.sum(axis=(2, 3))


maxpool2d_gradient_to_every_element_forward = F.maxpool2d_forward


def maxpool2d_gradient_to_every_element_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx: each window's dout added to every element of the window, not only its maximum."""
    shape, _, ph, pw, stride = cache
    dx = np.zeros(shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = (
                slice(None),
                slice(None),
                slice(i * stride, i * stride + ph),
                slice(j * stride, j * stride + pw),
            )
            dx[window] += dout[:, :, i : i + 1, j : j + 1]
    return dx


def softmax_not_divided_by_n_loss(x: np.ndarray, y: np.ndarray) -> tuple:
    """The loss summed over the batch while dx is divided by N."""
    loss, dx = F.softmax_ce_loss(x, y)
    return loss * x.shape[0], dx


def half_sse_layer_gradient_doubled_loss(x: np.ndarray, y: np.ndarray) -> tuple:
    """½Σ(x - y)² with the gradient of Σ(x - y)²: dx = 2(x - y)."""
    loss, dx = F.half_sse_loss(x, y)
    return loss, 2.0 * dx


def mse_missing_k_loss(x: np.ndarray, y: np.ndarray) -> tuple:
    """mean over N·K entries, with dx = 2(x - y)/N: the 1/K of the mean is forgotten."""
    loss, dx = F.mse_loss(x, y)
    return loss, dx * x.shape[1]


class AffineStaleCache:
    """Saito-style Affine that keeps the x of its first forward call."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.x: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x·W + b; caches x only the first time (the bug)."""
        if self.x is None:
            self.x = x
        return x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dW from the cached (stale) x."""
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class AffineAccumulating:
    """Saito-style Affine whose dW and db add up over backward calls (never reset)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.x: np.ndarray | None = None
        self.dW, self.db = np.zeros_like(W), np.zeros_like(b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x·W + b."""
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dW += xᵀ·dout, db += Σ dout (the bug: += on the previous call's)."""
        self.dW += self.x.T @ dout
        self.db += dout.sum(axis=0)
        return dout @ self.W.T


# --- the catalogue -----------------------------------------------------------------------


def _mutant(name: str, kind: str, diagnosis: str, description: str, **space: Any) -> LayerMutant:
    identifier = name.replace("-", "_")
    module = globals()
    if f"{identifier}_loss" in module:
        subject = LayerSubject(
            f"{MODULE}:{identifier}",
            KINDS[kind],
            "functional",
            module[f"{identifier}_loss"],
            asserted=True,
        )
    elif f"{identifier}_forward" in module:
        subject = LayerSubject(
            f"{MODULE}:{identifier}",
            KINDS[kind],
            "functional",
            module[f"{identifier}_forward"],
            module[f"{identifier}_backward"],
            asserted=True,
        )
    else:
        cls = "".join(word.capitalize() for word in name.split("-"))
        subject = LayerSubject(f"{MODULE}:{cls}", KINDS[kind], "object", module[cls], asserted=True)
    return LayerMutant(name, description, subject, diagnosis, LayerSpace(**space))


_CATALOGUE: tuple[LayerMutant, ...] = (
    _mutant("affine-db-not-summed", "affine", "not_summed_over_batch",
            "db = dout, not summed over the batch"),
    _mutant("affine-dx-transposed", "affine", "transposed", "dx = (dout·wᵀ)ᵀ, of shape (D, N)"),
    _mutant("relu-mask-dropped", "relu", "mask_dropped", "dx = dout: the mask x > 0 is dropped",
            features=(3, 5)),
    _mutant("relu-forward-in-place", "relu", "inputs_mutated",
            "forward writes max(0, x) into the caller's x"),
    _mutant("sigmoid-layer-derivative-at-output", "sigmoid", "derivative_at_output",
            "dx = dout·σ'(out), the derivative taken at the output"),
    _mutant("multiply-swapped-inputs", "multiply", "swapped_inputs",
            "(dx, dy) = (dout·x, dout·y): each input gets its own value"),
    _mutant("add-dy-zero", "add", "zero", "(dx, dy) = (dout, 0): the second input is forgotten"),
    _mutant("max-gradient-to-both", "max", "mask_dropped",
            "(dx, dy) = (dout, dout): the gradient goes to both inputs"),
    _mutant("batchnorm-mean-terms-missing", "batchnorm", "batchnorm_mean_terms_missing",
            "dx = gamma·dout/σ: no terms through the batch mean and variance"),
    _mutant("batchnorm-dgamma-not-summed", "batchnorm", "not_summed_over_batch",
            "dgamma = dout·x̂, not summed over the batch"),
    _mutant("dropout-not-rescaled", "dropout", "dropout_not_rescaled",
            "out = x·mask and dx = dout·mask: no division by the keep probability"),
    _mutant("dropout-mask-dropped", "dropout", "mask_dropped",
            "dx = dout/p: backward forgets the mask"),
    _mutant("conv2d-dw-flipped", "conv2d", "flipped_kernel",
            "dw with the kernel flipped: convolution where the forward cross-correlates",
            kernel=(2, 3)),
    _mutant("conv2d-db-not-summed", "conv2d", "not_summed_over_batch",
            "db summed over positions only, of shape (N, F)"),
    _mutant("maxpool2d-gradient-to-every-element", "maxpool2d",
            "maxpool_gradient_to_every_element", "dx gives dout to every element of a window"),
    _mutant("softmax-not-divided-by-n", "softmax_ce", "loss_not_divided_by_N",
            "the loss is summed over the batch while dx is divided by N"),
    _mutant("half-sse-layer-gradient-doubled", "half_sse", "factor_2",
            "dx = 2(x - y), the gradient of Σ(x - y)², for ½Σ(x - y)²"),
    _mutant("mse-missing-k", "mse", "factor_K", "dx = 2(x - y)/N: the 1/K of the mean forgotten"),
    _mutant("affine-stale-cache", "affine", "stale_cache",
            "an object keeps the x of its first forward call"),
    _mutant("affine-accumulating", "affine", "inconsistent_between_calls",
            "an object adds each backward's dW and db to the previous ones"),
)  # fmt: skip

#: Every layer mutant by name, in catalogue order.
LAYER_MUTANTS: dict[str, LayerMutant] = {mutant.name: mutant for mutant in _CATALOGUE}


def mutant_findings(
    mutant: LayerMutant, *, cases: int = 2, seed: int = 0, checks: Sequence[str] = CHECKS
) -> list[Finding]:
    """Every Finding of ``checks`` on ``mutant``: ``cases`` cases drawn from its space."""
    return list(
        run(mutant.subject, checks=tuple(checks), cases=cases, seed=seed, space=mutant.space)
    )
