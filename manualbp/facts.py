"""The facts about each activation and loss, in one table that every other module reads.

The engine (:mod:`manualbp.engine.activations`, :mod:`manualbp.engine.losses`) and the torch
mirror (:mod:`manualbp.checks.autograd.mirror`) each keep their own *formulas*, keyed by these
names; everything else a module needs to know about an activation or a loss — where it has a
kink, whether it is computed through exp/log (rounded absolutely, not relatively), whether it
is curved, which loss needs which output activation, the constant in front of the squared
error — is read from here. Adding an activation means: a row here, its formula in the engine,
its formula in the mirror (and the README); ``tests/unit/test_facts.py`` fails until all
three agree.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Slope of leaky ReLU for z < 0 (PyTorch's default negative_slope).
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class ActivationFacts:
    """What is true of an element-wise activation a = f(z).

    ``kink_slope``: f'(z) for z < 0 when f has a kink at 0 (f'(z) = 1 for z > 0), None when f
    is smooth. ``transcendental``: computed through exp, log or tanh, whose usual formulas are
    accurate to eps absolutely, not relatively. ``curved``: f'' is not identically 0, so
    f'(z) and f'(a) differ. ``never_flat``: f'(z) > 0 for every z (no unit is ever switched
    off). ``simplicity``: 0 for the simplest; Hypothesis shrinks towards simpler ones.
    """

    name: str
    kink_slope: float | None
    transcendental: bool
    curved: bool
    never_flat: bool
    simplicity: int

    @property
    def has_kink(self) -> bool:
        """True when f is not differentiable at z = 0 (ReLU, leaky ReLU)."""
        return self.kink_slope is not None


@dataclass(frozen=True)
class LossFacts:
    """What is true of a per-sample loss ℓ over K outputs.

    ``output_activation``: the activation the output layer must have (the loss is computed
    from the logits), or None. ``squared``: ℓ = c·Σ_k (a_k - y_k)² with ``factor`` c (mse:
    c = 1/K, ``per_output_mean``), so ∂ℓ/∂a = 2c(a - y) is a factor of δ_L of its own.
    ``per_output_terms``: ℓ is a sum of one term per output (every loss but softmax_ce).
    """

    name: str
    output_activation: str | None
    squared: bool
    factor: float
    per_output_mean: bool
    per_output_terms: bool


ACTIVATION_FACTS: dict[str, ActivationFacts] = {
    facts.name: facts
    for facts in (
        ActivationFacts("sigmoid", None, True, True, True, 3),
        ActivationFacts("tanh", None, True, True, True, 4),
        ActivationFacts("relu", 0.0, False, False, False, 1),
        ActivationFacts("leaky_relu", LEAKY_SLOPE, False, False, True, 2),
        ActivationFacts("softplus", None, True, True, True, 5),
        ActivationFacts("identity", None, False, False, True, 0),
    )
}

LOSS_FACTS: dict[str, LossFacts] = {
    facts.name: facts
    for facts in (
        LossFacts("half_sse", None, True, 0.5, False, True),
        LossFacts("sse", None, True, 1.0, False, True),
        LossFacts("mse", None, True, 1.0, True, True),
        LossFacts("bce", "sigmoid", False, 1.0, False, True),
        LossFacts("softmax_ce", "identity", False, 1.0, False, False),
    )
}

#: Activation names, in table order (the order random architectures draw from).
ACTIVATIONS: tuple[str, ...] = tuple(ACTIVATION_FACTS)
#: Loss names, in table order.
LOSSES: tuple[str, ...] = tuple(LOSS_FACTS)
#: The output activation each loss requires (losses absent here accept any activation).
LOSS_OUTPUT_ACTIVATION: dict[str, str] = {
    name: facts.output_activation
    for name, facts in LOSS_FACTS.items()
    if facts.output_activation is not None
}
#: Activations ordered simplest first (what Hypothesis shrinks towards).
SIMPLEST_ACTIVATIONS: tuple[str, ...] = tuple(
    sorted(ACTIVATION_FACTS, key=lambda name: ACTIVATION_FACTS[name].simplicity)
)
#: Activations with a kink at 0, and their slope for z < 0.
KINK_SLOPES: dict[str, float] = {
    name: facts.kink_slope
    for name, facts in ACTIVATION_FACTS.items()
    if facts.kink_slope is not None
}
#: The squared-error losses, whose ∂ℓ/∂a is a factor of δ_L of its own.
SQUARED_LOSSES: tuple[str, ...] = tuple(name for name, f in LOSS_FACTS.items() if f.squared)
#: Activations evaluated through exp, log or tanh (rounded absolutely).
TRANSCENDENTAL: frozenset[str] = frozenset(
    name for name, facts in ACTIVATION_FACTS.items() if facts.transcendental
)
#: Activations whose derivative never vanishes (every unit passes gradient).
NEVER_FLAT: tuple[str, ...] = tuple(
    name for name, facts in ACTIVATION_FACTS.items() if facts.never_flat
)
#: Activations with f'' not identically 0 (f'(z) and f'(a) differ).
CURVED: tuple[str, ...] = tuple(name for name, facts in ACTIVATION_FACTS.items() if facts.curved)
