"""The catalogue: every mutant with its bug, its expected diagnosis and where it shows.

Spaces are chosen so that every case drawn from them exposes the bug: ReLU is left out
where a dead unit could zero the very error term the bug changes; no parameter scale that
saturates a unit to a derivative of exactly 0; two or more units per layer (softmax_ce of one
output is identically 0); square layers where the realistic bug only runs on square matrices
(elsewhere it crashes with a shape error, which the checks report as ``fail``); batches of at
least two rows for the batch reduction bugs. The tests draw many cases from every space and
require the bug to show on each.
"""

from __future__ import annotations

from manualbp.architecture import BIAS_MODES, LOSSES, REDUCTIONS
from manualbp.engine.activations import relu_derivative
from manualbp.errors import UsageError
from manualbp.mazur import ARCHITECTURE as MAZUR_ARCHITECTURE
from manualbp.mutants import formulas as f
from manualbp.mutants import training as t
from manualbp.mutants.base import Mutant
from manualbp.space import ArchSpace

#: Activations whose derivative is never exactly 0: error terms never vanish for a layer.
NEVER_FLAT = ("sigmoid", "tanh", "leaky_relu", "softplus", "identity")
#: Activations with f(z) != z and f'(z) != 1 everywhere.
CURVED = ("sigmoid", "tanh", "softplus")
#: Parameter scales: 1/sqrt(fan_in), 0.5 and 1e-3 (near the kinks). The larger default scales
#: saturate sigmoid and tanh units through a few layers, to a derivative of exactly 0 in
#: float64, where no bug in an error term can show.
SCALES: tuple[float | None, ...] = (None, 0.5, 1e-3)
#: Losses under which every bias gradient can be non-zero: softmax_ce is left out, since it
#: is invariant to a constant added to every logit, so a shared output bias has gradient 0.
BIASED = ("half_sse", "sse", "mse", "bce")
#: Scales that keep pre-activations away from 0, where tanh(z) ≈ z and tanh'(z) ≈ 1 hide a
#: missing or misplaced tanh, and gradients comparable to the parameters, so that a wrong
#: update θ - lr·g is not lost in the rounding of θ.
AWAY_FROM_ZERO: tuple[float | None, ...] = (None, 0.5)


def space(
    *,
    activations: tuple[str, ...] = NEVER_FLAT,
    losses: tuple[str, ...] = LOSSES,
    bias_modes: tuple[str, ...] = BIAS_MODES,
    reductions: tuple[str, ...] = REDUCTIONS,
    depth: tuple[int, int] = (1, 5),
    width: tuple[int, int] = (2, 8),
    batch: tuple[int, int] = (1, 16),
    square: float = 0.25,
    scales: tuple[float | None, ...] = SCALES,
) -> ArchSpace:
    """An ArchSpace with the catalogue's defaults: never-flat activations, no saturating
    scale, at least two units per layer (softmax_ce of a single output is identically 0)."""
    return ArchSpace(
        depth=depth,
        width=width,
        activations=activations,
        losses=losses,
        bias_modes=bias_modes,
        reductions=reductions,
        batch=batch,
        scales=scales,
        square=square,
    )


def only(
    activation: str,
    batch: tuple[int, int] = (1, 16),
    scales: tuple[float | None, ...] = SCALES,
) -> ArchSpace:
    """Every layer ``activation`` and a squared loss, so the output layer uses f' too."""
    return space(activations=(activation,), losses=f.SQUARED_LOSSES, batch=batch, scales=scales)


ANY = space()
#: For bugs that only show in a step or in later calls.
STEPPING = space(scales=AWAY_FROM_ZERO)
ROWS = space(batch=(2, 16))
DEEP = space(depth=(2, 5))
DEEP_STEPPING = space(depth=(2, 5), scales=AWAY_FROM_ZERO)
DEEP_CURVED = space(activations=CURVED, depth=(2, 5), scales=AWAY_FROM_ZERO)
SQUARE = space(square=1.0)
SQUARE_DEEP = space(depth=(2, 5), square=1.0)
#: Rows per case for ReLU-like layers: enough that both signs of z occur in the first layer.
KINKED_ROWS = (8, 16)
MAZUR = ArchSpace(fixed=(MAZUR_ARCHITECTURE,), batch=(1, 4), scales=AWAY_FROM_ZERO)


_CATALOGUE: tuple[Mutant, ...] = (
    # --- forward wiring ---
    Mutant(
        "mazur-w7-reads-out-h2",
        "Scalar 2-2-2 forward pass: net_o2 = w7*out_h2 + w8*out_h2 + b2, w7 is out_h1's (S0a).",
        category="forward wiring",
        kind="wrong_forward",
        formula="forward",
        layer="output",
        space=MAZUR,
        network_class=f.MisWiredMazur,
    ),
    Mutant(
        "forward-W-not-transposed",
        "Forward pass computes z = a W + b with W stored as (units, inputs), forgetting W^T.",
        category="forward wiring",
        kind="wrong_forward",
        formula="forward",
        layer="all",
        space=SQUARE,
        network_class=f.network_with(affine=f.UntransposedForwardAffine),
    ),
    Mutant(
        "forward-next-layer-reads-z",
        "Each layer computes a = f(z) but the next layer is fed z instead of a.",
        category="forward wiring",
        kind="wrong_forward",
        formula="forward",
        layer="hidden",
        space=DEEP_CURVED,
        network_class=f.network_with(activation_layer=f.PreActivationPassedOn),
    ),
    # --- activation derivatives ---
    Mutant(
        "sigmoid-derivative-at-output",
        "sigmoid_prime(z) = s(z)(1 - s(z)) is called with the cached output a instead of z.",
        category="activation derivative",
        kind="derivative_at_output",
        formula="activation_derivative",
        layer="all",
        space=only("sigmoid"),
        network_class=f.network_with(activations={"sigmoid": f.derivative_at_output("sigmoid")}),
    ),
    Mutant(
        "sigmoid-derivative-on-z",
        "The output form y(1 - y) of the sigmoid derivative is fed z instead of a.",
        category="activation derivative",
        kind="other",
        formula="activation_derivative",
        layer="all",
        space=only("sigmoid"),
        network_class=f.network_with(activations={"sigmoid": f.output_form_fed_input("sigmoid")}),
    ),
    Mutant(
        "tanh-derivative-without-square",
        "tanh derivative written 1 - a instead of 1 - a^2.",
        category="activation derivative",
        kind="other",
        formula="activation_derivative",
        layer="all",
        space=only("tanh"),
        network_class=f.network_with(
            activations={"tanh": f.with_derivative("tanh", f.tanh_derivative_without_square)}
        ),
    ),
    Mutant(
        "tanh-derivative-at-output",
        "tanh_prime(z) = 1 - tanh(z)^2 is called with the cached output a instead of z.",
        category="activation derivative",
        kind="derivative_at_output",
        formula="activation_derivative",
        layer="all",
        space=only("tanh", scales=AWAY_FROM_ZERO),
        network_class=f.network_with(activations={"tanh": f.derivative_at_output("tanh")}),
    ),
    Mutant(
        "softplus-derivative-at-output",
        "softplus derivative sigmoid(z) is evaluated as sigmoid(a) on the cached output.",
        category="activation derivative",
        kind="derivative_at_output",
        formula="activation_derivative",
        layer="all",
        space=only("softplus"),
        network_class=f.network_with(activations={"softplus": f.derivative_at_output("softplus")}),
    ),
    Mutant(
        "relu-mask-inverted",
        "ReLU backward keeps the gradient where z <= 0 and zeroes it where z > 0.",
        category="activation derivative",
        kind="other",
        formula="activation_derivative",
        layer="all",
        space=only("relu", batch=KINKED_ROWS),
        network_class=f.network_with(
            activations={"relu": f.with_derivative("relu", f.relu_mask_inverted)}
        ),
    ),
    Mutant(
        "relu-mask-missing",
        "ReLU backward passes the gradient through unchanged, without the z > 0 mask.",
        category="activation derivative",
        kind="missing_activation_derivative",
        formula="activation_derivative",
        layer="all",
        space=only("relu", batch=KINKED_ROWS),
        network_class=f.network_with(activations={"relu": f.with_derivative("relu", f.no_mask)}),
    ),
    Mutant(
        "leaky-relu-slope-mismatch",
        "Leaky ReLU backward reuses ReLU's mask: slope 0 for z < 0 where the forward uses 0.01.",
        category="activation derivative",
        kind="other",
        formula="activation_derivative",
        layer="all",
        space=only("leaky_relu", batch=KINKED_ROWS),
        network_class=f.network_with(
            activations={"leaky_relu": f.with_derivative("leaky_relu", relu_derivative)}
        ),
    ),
    # --- hidden error recurrence ---
    Mutant(
        "hidden-error-W-not-transposed",
        "Hidden error term multiplies by W_{l+1} where W_{l+1}^T belongs (runs only if square).",
        category="hidden error recurrence",
        kind="transposed",
        formula="hidden_error",
        layer="hidden",
        space=SQUARE_DEEP,
        network_class=f.network_with(affine=f.UntransposedBackAffine),
    ),
    Mutant(
        "hidden-error-wrong-layer-matrix",
        "Hidden error term multiplies by the layer's own W_l instead of W_{l+1}^T (SEEDS S0b).",
        category="hidden error recurrence",
        kind="wrong_layer_matrix",
        formula="hidden_error",
        layer="hidden",
        space=SQUARE_DEEP,
        network_class=f.WrongLayerMatrix,
    ),
    Mutant(
        "hidden-error-missing-derivative",
        "Hidden error term is W^T delta without the elementwise f'(z) factor.",
        category="hidden error recurrence",
        kind="missing_activation_derivative",
        formula="hidden_error",
        layer="hidden",
        space=DEEP_CURVED,
        network_class=f.network_with(activation_layer=f.DerivativeDropped),
    ),
    Mutant(
        "first-layer-error-never-computed",
        "The backward loop stops one layer early, so delta_1 keeps its zero initialisation.",
        category="hidden error recurrence",
        kind="zero",
        formula="hidden_error",
        layer="hidden",
        space=DEEP,
        network_class=f.FirstLayerErrorSkipped,
    ),
    # --- weight and bias gradients ---
    Mutant(
        "weight-gradient-transposed",
        "Weight gradient computed as a_prev^T delta, the transpose of W's layout.",
        category="weight/bias gradient",
        kind="transposed",
        formula="weight_gradient",
        layer="all",
        space=SQUARE,
        network_class=f.network_with(affine=f.TransposedWeightGradient),
    ),
    Mutant(
        "weight-gradient-averaged",
        "Weight gradient divided by the batch size although delta already carries the reduction.",
        category="weight/bias gradient",
        kind="factor_1/N",
        formula="weight_gradient",
        layer="all",
        space=ROWS,
        network_class=f.network_with(affine=f.AveragedWeightGradient),
    ),
    Mutant(
        "weight-gradient-last-sample-only",
        "Per-sample loop assigns dW = delta_n a_n^T instead of adding: only the last row counts.",
        category="weight/bias gradient",
        kind="other",
        formula="weight_gradient",
        layer="all",
        space=ROWS,
        network_class=f.network_with(affine=f.LastSampleWeightGradient),
    ),
    Mutant(
        "weight-gradient-uses-own-output",
        "Off-by-one in the activation list: dW_l = delta_l^T a_l instead of a_{l-1}.",
        category="weight/bias gradient",
        kind="other",
        formula="weight_gradient",
        layer="all",
        space=SQUARE,
        network_class=f.OwnOutputInWeightGradient,
    ),
    Mutant(
        "bias-gradient-averaged",
        "Bias gradient taken as delta.mean(axis=0) instead of delta.sum(axis=0).",
        category="weight/bias gradient",
        kind="factor_1/N",
        formula="bias_gradient",
        layer="all",
        space=space(
            losses=BIASED,
            bias_modes=("per_unit", "shared"),
            batch=(2, 16),
        ),
        network_class=f.network_with(affine=f.AveragedBiasGradient),
    ),
    Mutant(
        "shared-bias-first-unit-only",
        "A bias shared by a layer's units gets only the first unit's error term, not the sum.",
        category="weight/bias gradient",
        kind="other",
        formula="bias_gradient",
        layer="all",
        space=space(losses=BIASED, bias_modes=("shared",)),
        network_class=f.network_with(affine=f.SharedBiasFirstUnit),
    ),
    Mutant(
        "bias-gradient-zero",
        "Bias gradient buffer allocated with zeros and never filled.",
        category="weight/bias gradient",
        kind="zero",
        formula="bias_gradient",
        layer="all",
        space=space(losses=BIASED, bias_modes=("per_unit", "shared")),
        network_class=f.network_with(affine=f.ZeroBiasGradient),
    ),
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
        space=space(losses=f.SQUARED_LOSSES),
        network_class=f.network_with(
            losses={name: f.loss_gradient_negated(name) for name in f.SQUARED_LOSSES}
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
        space=space(
            activations=("sigmoid", "tanh"), losses=f.SQUARED_LOSSES, scales=AWAY_FROM_ZERO
        ),
        network_class=f.network_with(
            losses={name: f.without_activation_derivative(name) for name in f.SQUARED_LOSSES}
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

#: Every mutant by name, in catalogue order.
MUTANTS: dict[str, Mutant] = {mutant.name: mutant for mutant in _CATALOGUE}


def get_mutant(name: str) -> Mutant:
    """The mutant called ``name`` (its dashed name or its identifier with underscores).

    Raises :class:`UsageError` listing the valid names for an unknown one.
    """
    for mutant in MUTANTS.values():
        if name in (mutant.name, mutant.identifier):
            return mutant
    raise UsageError(f"mutant: got {name!r}, expected one of {', '.join(MUTANTS)}")
