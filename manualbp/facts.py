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
    ``unstable``: the textbook formulas that lose digits or overflow where the unit
    saturates, and ``stable`` the forms that do not ("" when nothing is lost).
    """

    name: str
    kink_slope: float | None
    transcendental: bool
    curved: bool
    never_flat: bool
    simplicity: int
    unstable: str = ""
    stable: str = ""

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
    ``unstable`` / ``stable``: the textbook formulas that lose digits or overflow where the
    output saturates, and the forms that do not ("" when nothing is lost). ``growth``: k
    such that the textbook ∂ℓ/∂a amplifies the *relative* rounding of δ by about e^(k·z)
    for z > 0 (bce: (1 - y)/(1 - a) takes 1 - a with a relative error of eps·e^z); 0 where
    the loss of digits is absolute, about eps against terms of size 1, which the checks'
    rounding allowance already covers (σ' = a(1 - a), tanh' = 1 - a², softmax(z) - y).
    """

    name: str
    output_activation: str | None
    squared: bool
    factor: float
    per_output_mean: bool
    per_output_terms: bool
    unstable: str = ""
    stable: str = ""
    growth: float = 0.0


ACTIVATION_FACTS: dict[str, ActivationFacts] = {
    facts.name: facts
    for facts in (
        ActivationFacts(
            name="sigmoid",
            kink_slope=None,
            transcendental=True,
            curved=True,
            never_flat=True,
            simplicity=3,
            unstable="σ(z) = 1/(1 + e^-z) (e^-z overflows for z < -709) and σ'(z) = a(1 - a) "
            "(1 - a cancels where the unit saturates)",
            stable="σ(z) = e^min(z,0)/(1 + e^-|z|) and σ'(z) = e^-|z|/(1 + e^-|z|)² from z",
        ),
        ActivationFacts(
            name="tanh",
            kink_slope=None,
            transcendental=True,
            curved=True,
            never_flat=True,
            simplicity=4,
            unstable="tanh'(z) = 1 - a² (cancels where the unit saturates)",
            stable="tanh'(z) = 4e^-2|z|/(1 + e^-2|z|)² from z",
        ),
        ActivationFacts(
            name="relu",
            kink_slope=0.0,
            transcendental=False,
            curved=False,
            never_flat=False,
            simplicity=1,
        ),
        ActivationFacts(
            name="leaky_relu",
            kink_slope=LEAKY_SLOPE,
            transcendental=False,
            curved=False,
            never_flat=True,
            simplicity=2,
        ),
        ActivationFacts(
            name="softplus",
            kink_slope=None,
            transcendental=True,
            curved=True,
            never_flat=True,
            simplicity=5,
            unstable="softplus(z) = log(1 + e^z) (e^z overflows for z > 709)",
            stable="max(z, 0) + log1p(e^-|z|), i.e. logaddexp(0, z)",
        ),
        ActivationFacts(
            name="identity",
            kink_slope=None,
            transcendental=False,
            curved=False,
            never_flat=True,
            simplicity=0,
        ),
    )
}

LOSS_FACTS: dict[str, LossFacts] = {
    facts.name: facts
    for facts in (
        LossFacts(
            name="half_sse",
            output_activation=None,
            squared=True,
            factor=0.5,
            per_output_mean=False,
            per_output_terms=True,
        ),
        LossFacts(
            name="sse",
            output_activation=None,
            squared=True,
            factor=1.0,
            per_output_mean=False,
            per_output_terms=True,
        ),
        LossFacts(
            name="mse",
            output_activation=None,
            squared=True,
            factor=1.0,
            per_output_mean=True,
            per_output_terms=True,
        ),
        LossFacts(
            name="bce",
            output_activation="sigmoid",
            squared=False,
            factor=1.0,
            per_output_mean=False,
            per_output_terms=True,
            unstable="-[y log a + (1 - y) log(1 - a)] and ∂ℓ/∂a = (a - y)/(a(1 - a)) "
            "(log(1 - a) of a saturated a is log(0), 1 - a cancels)",
            stable="ℓ = softplus(z) - y·z from the logits, δ = a - y",
            growth=1.0,
        ),
        LossFacts(
            name="softmax_ce",
            output_activation="identity",
            squared=False,
            factor=1.0,
            per_output_mean=False,
            per_output_terms=False,
            unstable="softmax(z) = e^z/Σe^z without shifting z (e^z overflows) and the log "
            "of a probability that underflows to 0",
            stable="log_softmax(z) = z - max z - log Σ e^(z - max z), δ = softmax(z) - y",
        ),
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
