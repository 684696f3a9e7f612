"""Mutants with a bug at the output or in training: the pairing of loss and gradient, the
batch reduction, the update step, and state kept between calls."""

from __future__ import annotations

from manualbp.facts import SQUARED_LOSSES
from manualbp.mutants import formulas as f
from manualbp.mutants import training as t
from manualbp.mutants.base import Mutant
from manualbp.mutants.spaces import (
    ANY,
    AWAY_FROM_ZERO,
    DEEP_STEPPING,
    STEPPING,
    space,
)

#: In catalogue order.
OUTPUT_BUGS: tuple[Mutant, ...] = (
    # --- loss/gradient pairing ---
    Mutant(
        "half-sse-gradient-doubled",
        "Loss is 1/2 sum (a - y)^2 but its gradient is written 2(a - y).",
        category="loss/gradient pairing",
        kind="factor_2",
        formula="loss_gradient",
        layer="output",
        space=space(losses=("half_sse",)),
        network_class=f.network_with(losses={"half_sse": f.gradient_of("half_sse", "sse")}),
    ),
    Mutant(
        "sse-gradient-halved",
        "Loss is sum (a - y)^2 but its gradient is written a - y, as for 1/2 SSE.",
        category="loss/gradient pairing",
        kind="factor_half",
        formula="loss_gradient",
        layer="output",
        space=space(losses=("sse",)),
        network_class=f.network_with(losses={"sse": f.gradient_of("sse", "half_sse")}),
    ),
    Mutant(
        "mse-gradient-missing-1-over-K",
        "Loss averages over the K outputs but its gradient 2(a - y) forgets the 1/K.",
        category="loss/gradient pairing",
        kind="factor_K",
        formula="loss_gradient",
        layer="output",
        space=space(losses=("mse",)),
        network_class=f.network_with(losses={"mse": f.gradient_of("mse", "sse")}),
    ),
    Mutant(
        "squared-loss-gradient-sign-flipped",
        "Gradient of the squared error written (y - a) instead of -(y - a).",
        category="loss/gradient pairing",
        kind="sign_flip",
        formula="loss_gradient",
        layer="output",
        space=space(losses=SQUARED_LOSSES),
        network_class=f.network_with(
            losses={name: f.loss_gradient_negated(name) for name in SQUARED_LOSSES}
        ),
    ),
    Mutant(
        "cross-entropy-error-sign-flipped",
        "Cross-entropy output error term written y - a instead of a - y.",
        category="loss/gradient pairing",
        kind="sign_flip",
        formula="output_error",
        layer="output",
        space=space(losses=f.CROSS_ENTROPIES),
        network_class=f.network_with(
            losses={name: f.output_error_negated(name) for name in f.CROSS_ENTROPIES}
        ),
    ),
    Mutant(
        "bce-shortcut-times-sigmoid-derivative",
        "Cross-entropy shortcut a - y is still multiplied by the sigmoid derivative a(1 - a).",
        category="loss/gradient pairing",
        kind="other",
        formula="output_error",
        layer="output",
        space=space(losses=("bce",)),
        network_class=f.network_with(losses={"bce": f.shortcut_times_derivative("bce")}),
    ),
    Mutant(
        "softmax-gradient-not-normalised",
        "Softmax cross-entropy gradient uses exp(z) without dividing by the sum of exponentials.",
        category="loss/gradient pairing",
        kind="other",
        formula="output_error",
        layer="output",
        space=space(losses=("softmax_ce",)),
        network_class=f.network_with(losses={"softmax_ce": f.softmax_unnormalised()}),
    ),
    Mutant(
        "output-error-missing-derivative",
        "Output error term -(y - a) used with a squared loss, the f'(z) factor left out (S2).",
        category="loss/gradient pairing",
        kind="missing_activation_derivative",
        formula="output_error",
        layer="output",
        space=space(activations=("sigmoid", "tanh"), losses=SQUARED_LOSSES, scales=AWAY_FROM_ZERO),
        network_class=f.network_with(
            losses={name: f.without_activation_derivative(name) for name in SQUARED_LOSSES}
        ),
    ),
    Mutant(
        "output-error-last-unit-skipped",
        "Loop over output units runs to K - 1, leaving the last unit's error term at zero.",
        category="loss/gradient pairing",
        kind="partial_units",
        formula="output_error",
        layer="output",
        space=ANY,
        network_class=f.LastOutputUnitSkipped,
    ),
    # --- batch reduction ---
    Mutant(
        "mean-loss-gradient-summed",
        "Loss is averaged over the batch but the gradient is summed over it.",
        category="batch reduction",
        kind="factor_N",
        formula="output_error",
        layer="output",
        space=space(reductions=("mean",), batch=(2, 16)),
        network_class=f.GradientAlwaysSummed,
    ),
    Mutant(
        "sum-loss-gradient-averaged",
        "Loss is summed over the batch but the gradient is averaged over it.",
        category="batch reduction",
        kind="factor_1/N",
        formula="output_error",
        layer="output",
        space=space(reductions=("sum",), batch=(2, 16)),
        network_class=f.GradientAlwaysAveraged,
    ),
    Mutant(
        "mean-loss-value-summed",
        "Reported loss is the batch sum although the reduction (and the gradient) is the mean.",
        category="batch reduction",
        kind="factor_N",
        formula="forward",
        layer="output",
        space=space(reductions=("mean",), batch=(2, 16)),
        network_class=f.LossNotReduced,
    ),
    # --- update step ---
    t.HiddenUpdateNotAssigned(
        "hidden-update-not-assigned",
        "The hidden layers' new weights are computed but never assigned back (SEEDS S0b).",
        category="update step",
        kind="update_not_applied",
        formula="update_step",
        layer="hidden",
        space=DEEP_STEPPING,
    ),
    t.StepSignFlipped(
        "step-sign-flipped",
        "Update written w += lr * grad, climbing the loss instead of descending it.",
        category="update step",
        kind="sign_flip",
        formula="update_step",
        layer="all",
        space=STEPPING,
    ),
    t.StepDividedByBatch(
        "step-divides-by-batch-again",
        "Update uses lr / N as for summed gradients although the gradient is already a mean.",
        category="update step",
        kind="factor_1/N",
        formula="update_step",
        layer="all",
        space=space(reductions=("mean",), batch=(2, 16), scales=AWAY_FROM_ZERO),
    ),
    t.FrozenIgnored(
        "frozen-parameters-updated",
        "The frozen argument is accepted but ignored: frozen parameters are updated too.",
        category="update step",
        kind="frozen_updated",
        formula="update_step",
        layer=None,
        space=STEPPING,
    ),
    # --- state ---
    t.StaleForwardCache(
        "stale-forward-cache",
        "Forward pass memoised per input batch, so new parameters reuse the old activations.",
        category="state",
        kind="inconsistent_between_calls",
        formula="state",
        layer=None,
        space=STEPPING,
    ),
    t.AccumulatedGradients(
        "gradients-accumulate-across-calls",
        "Gradient buffers are added to on every call and never zeroed between calls.",
        category="state",
        kind="inconsistent_between_calls",
        formula="state",
        layer=None,
        space=STEPPING,
    ),
    t.StepInPlace(
        "step-updates-params-in-place",
        "Update written params[k] -= lr * grad, overwriting the caller's arrays.",
        category="state",
        kind="inputs_mutated",
        formula="state",
        layer=None,
        space=STEPPING,
    ),
)
