"""Why a printed figure disagrees: the usual causes in a source, tried in turn.

A worked example's figure that disagrees with a correct computation is most often the
source's doing, not the implementation's. When a printed figure fails (and is not a
recorded erratum), :meth:`Explainer.explain` first makes sure the implementation is right
there — its value agrees with the float64 torch mirror (for a figure after more than
:data:`MIRROR_STEPS` updates: its gradients and first update do) — and then tries, from the
implementation's own values, what reproduces the printed text at its precision:

``source_truncated``             the value cut after the printed decimals, not rounded;
``source_rounded_intermediates`` the figure computed from its inputs rounded as the source
                                 prints them (the paths of an expression, or one step of
                                 the chain rule back, :mod:`~manualbp.checks.published.chain`);
``source_sign_convention``       the opposite sign (an error term Err = -δ);
``source_off_by_one_update``     the value one update earlier or later;
``source_loss_factor``           a loss 2, ½, K, 1/K, N or 1/N times the file's;
``source_update_order``          the hidden error terms taken with the already-updated
                                 weights above (:mod:`~manualbp.checks.published.variants`).

The first that reproduces it explains the figure; a right value that none reproduces is
``source_unexplained`` (a misprint, or a path naming another number). Either way the
Finding's diagnosis says so instead of a likely bug
(:func:`~manualbp.checks.published.explanation.annotate`), and
``detail["suggested_entry"]`` holds the quantity entry to put in the reference file: the
rule or path that fits the source's convention, or the erratum to record. A figure of a
graph or affine example is computed by the implementation's own nodes, which no reference
confirms: only truncation and rounded paths are tried there, and the sentence says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from manualbp.checks.published.chain import Chain
from manualbp.checks.published.explanation import (
    REPRODUCED,
    Confirmation,
    Explanation,
    agrees,
    entry,
    erratum_entry,
    show,
    single_path,
)
from manualbp.checks.published.paths import Interval, Path, path_key
from manualbp.checks.published.problems import MLPProblem, PublishedQuantity, ReferenceExample
from manualbp.checks.published.rules import decimals, half_unit, truncates_to
from manualbp.checks.published.values import MLPValues
from manualbp.checks.published.variants import Variants, factors, mirror_values
from manualbp.protocol import ImplementationFault, Unsupported

#: Figures after more updates than this are confirmed by the mirror's gradients and first
#: update, not by its own training (which would cost as much as the implementation's).
MIRROR_STEPS = 100
#: The implementation's value and the mirror's count as the same within this share of the
#: printed half unit.
SAME = 0.01
#: Figures after at most this many updates try the loss factors before the update order
#: (a loss factor then costs a few updates, not a whole training per factor).
CHEAP_STEPS = 10
#: Quantities a source may print with the opposite sign (Err = -δ, and -∂E/∂θ with it).
SIGNED: tuple[str, ...] = ("delta", "dE_da", "grad")

Candidate = Callable[[PublishedQuantity, float, Confirmation], "Explanation | None"]


class Explainer:
    """The explanations of the printed figures of one worked example (module docstring).

    ``leaf`` gives the implementation's value of a path; ``values`` are its MLP values (None
    for a graph or affine example, whose figures only truncation and rounding can explain).
    """

    def __init__(
        self,
        reference: ReferenceExample,
        leaf: Callable[[Path], float],
        values: MLPValues | None = None,
    ) -> None:
        self.reference = reference
        self.leaf = leaf
        self.values = values
        #: the decimals and label of every path the file prints on its own
        self.printed: dict[tuple[object, ...], tuple[int, str]] = {}
        for quantity in reference.quantities:
            found = single_path(quantity.expression)
            if found is not None:
                entry = (decimals(quantity.printed), quantity.label)
                self.printed.setdefault(path_key(found[1]), entry)
        self._rounds: bool | None = None
        if values is not None:
            self.chain = Chain(values.problem)
            self.variants = Variants(values)
            self._mirror: MLPValues | None = None

    # --- the search ----------------------------------------------------------------------

    def explain(self, quantity: PublishedQuantity, value: float) -> Explanation | None:
        """The explanation of a figure that disagrees with ``value`` (the implementation's),
        or None when the implementation is not confirmed right (or, for a graph or affine
        example, when neither truncation nor rounding reproduces it)."""
        if quantity.rule.kind != "printed":
            return None
        try:
            confirmation = self.confirm(quantity, value)
        except (Unsupported, ImplementationFault):
            return None  # what the implementation cannot give or gets wrong is not confirmed
        if not confirmation.confirmed:
            return None
        tried: list[str] = []
        untried: list[str] = []
        for name, candidate in self._candidates(quantity):
            try:
                found = candidate(quantity, value, confirmation)
            except (Unsupported, ImplementationFault) as exc:
                untried.append(f"{name} ({exc})")
                continue
            if found is not None:
                return found
            tried.append(name)
        if self.values is None:
            return None
        return self._unexplained(quantity, confirmation, tried, untried)

    def _candidates(self, quantity: PublishedQuantity) -> Iterator[tuple[str, Candidate]]:
        if not self.rounds(quantity):
            yield "truncation", self._truncated
        found = single_path(quantity.expression)
        if found is None:
            yield "rounded paths", self._rounded_paths
        if self.values is None or found is None:
            return
        steps = found[1].steps
        yield "rounded inputs", self._rounded_inputs
        if found[1].quantity in SIGNED:
            yield "sign", self._sign
        if steps:
            yield "one update more or less", self._off_by_one
        if steps <= CHEAP_STEPS:
            yield "loss factor", self._loss_factor
        if steps and self.values.problem.arch.depth > 1:
            yield "update order", self._update_order
        if steps > CHEAP_STEPS:
            yield "loss factor", self._loss_factor

    def rounds(self, quantity: PublishedQuantity) -> bool:
        """Whether the source is seen to round: another figure before any update agrees
        with the implementation rounded and not truncated (truncation cannot explain a
        figure of a source that rounds the others)."""
        if self._rounds is None:
            self._rounds = False
            for other in self.reference.quantities:
                paths = other.expression.paths
                if other is quantity or other.rule.kind != "printed" or any(p.steps for p in paths):
                    continue
                try:
                    value = other.expression.evaluate(lambda p: Interval.point(self.leaf(p))).lo
                except (Unsupported, ImplementationFault):
                    continue
                if agrees(value, other.printed) and not truncates_to(value, other.printed):
                    self._rounds = True
                    break
        return self._rounds

    # --- is the implementation right? ----------------------------------------------------

    def mirror(self) -> MLPValues:
        """The torch mirror's values of this example (computed on first use)."""
        assert self.values is not None
        if self._mirror is None:
            self._mirror = mirror_values(self.values.problem)
        return self._mirror

    def confirm(self, quantity: PublishedQuantity, value: float) -> Confirmation:
        """Whether ``value`` is right (module docstring)."""
        implementation = f"{value!r}, through the protocol"
        if self.values is None:
            words = (
                f"the implementation's own {self.reference.kind} computation gives "
                f"{show(value, quantity.printed)} (no independent reference confirms it)"
            )
            return Confirmation(True, words, value)
        evidence = {"the implementation under test": implementation}
        steps = max(path.steps for path in quantity.expression.paths)
        if steps > MIRROR_STEPS:
            return self._confirm_first_update(value, evidence)
        mirror = self.mirror()
        reference = quantity.expression.evaluate(lambda p: Interval.point(mirror.value(p))).lo
        right = abs(value - reference) <= SAME * half_unit(quantity.printed)
        evidence["PyTorch autograd"] = (
            f"{reference!r}: the float64 torch mirror of the file's network "
            "(manualbp.torch_mirror), computed by the published check"
        )
        words = f"the implementation's {show(value, quantity.printed)} agrees with the torch mirror"
        return Confirmation(right, words, value, reference, evidence)

    def _confirm_first_update(self, value: float, evidence: dict[str, str]) -> Confirmation:
        assert self.values is not None
        mirror, values = self.mirror(), self.values
        scale = max(1.0, *(float(abs(g).max()) for g in mirror.gradients(0).values()))
        right = all(
            float(abs(values.gradients(0)[name] - gradient).max()) <= 1e-9 * scale
            for name, gradient in mirror.gradients(0).items()
        ) and all(
            float(abs(values.params(1)[name] - theta).max()) <= 1e-9 * max(1.0, scale)
            for name, theta in mirror.params(1).items()
        )
        words = (
            "the implementation's gradients and first update agree with the torch mirror "
            "(its training was not repeated by the mirror)"
        )
        evidence["PyTorch autograd"] = (
            "gradients at the file's parameters and the first update agree with the float64 "
            "torch mirror to 1e-9; confirm the trained value with --checks autograd"
        )
        return Confirmation(right, words, value, None, evidence)

    # --- the candidates --------------------------------------------------------------------

    def _explained(
        self,
        kind: str,
        how: str,
        quantity: PublishedQuantity,
        value: float,
        confirmation: Confirmation,
        suggested: dict[str, Any] | None = None,
    ) -> Explanation:
        reproduction = f"{how}: {show(value, quantity.printed)} → {quantity.printed}"
        sentence = f"{REPRODUCED} when {reproduction}; {confirmation.words}"
        if suggested is None:
            suggested = erratum_entry(
                quantity, confirmation.right, reproduction, confirmation.evidence
            )
        return Explanation(kind, sentence, value, suggested, confirmation.mirror)

    def _truncated(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        if not truncates_to(value, quantity.printed):
            return None
        places = decimals(quantity.printed)
        how = f"the value is cut after {places} decimals instead of rounded"
        suggested = entry(quantity, rule="truncated")
        return self._explained("source_truncated", how, quantity, value, confirmation, suggested)

    def _plans(self, inputs: tuple[Path, ...], places: int) -> Iterator[dict[str, int]]:
        """Roundings to try: each input the file prints at its printed decimals (the others
        exact), then every input at the figure's decimals."""
        printed = {
            p.text: self.printed[path_key(p)][0] for p in inputs if path_key(p) in self.printed
        }
        if printed:
            yield printed
        if places >= 0:
            yield {p.text: places for p in inputs}

    def _rounded_paths(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        expression = quantity.expression
        for plan in self._plans(expression.paths, decimals(quantity.printed)):

            def leaf(path: Path, plan: dict[str, int] = plan) -> Interval:
                exact = self.leaf(path)
                places = plan.get(path.text)
                return Interval.point(exact if places is None else round(exact, places))

            candidate = expression.evaluate(leaf).lo
            if agrees(candidate, quantity.printed):
                listed = ", ".join(f"{text} to {k} decimals" for text, k in plan.items())
                reason = f"the source computes it from {listed}, as it prints them"
                rule = {"kind": "rounded", "rounded": plan, "reason": reason}
                how = f"{listed.replace(' to ', ' is rounded to ')} before use"
                return self._explained(
                    "source_rounded_intermediates",
                    how,
                    quantity,
                    candidate,
                    confirmation,
                    entry(quantity, rule=rule),
                )
        return None

    def _rounded_inputs(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        sign, path = single_path(quantity.expression)  # type: ignore[misc]
        unread: Unsupported | None = None
        tried = 0
        for formula in self.chain.formulas(path):
            try:
                numbers = [self.leaf(p) for p in formula.inputs]
            except Unsupported as exc:  # an input needs a method the implementation lacks
                unread = unread or exc
                continue
            tried += 1
            for plan in self._plans(formula.inputs, decimals(quantity.printed)):
                rounded = [
                    round(n, plan[p.text]) if p.text in plan else n
                    for p, n in zip(formula.inputs, numbers, strict=True)
                ]
                if rounded == numbers:
                    continue
                candidate = sign * formula.compute(rounded)
                if agrees(candidate, quantity.printed):
                    shown = [
                        f"{self._name(p)} = {r:.{plan[p.text]}f}"
                        for p, r in zip(formula.inputs, rounded, strict=True)
                        if p.text in plan
                    ]
                    listed = ", ".join(shown[:3]) + (", …" if len(shown) > 3 else "")
                    how = (
                        f"{quantity.name} is computed as {formula.text} from its inputs "
                        f"rounded as printed ({listed})"
                    )
                    return self._explained(
                        "source_rounded_intermediates", how, quantity, candidate, confirmation
                    )
        if unread is not None and not tried:
            raise unread
        return None

    def _name(self, path: Path) -> str:
        """``label (path)`` for a path the file prints, else the path."""
        found = self.printed.get(path_key(path))
        return f"{found[1]} ({path.text})" if found else path.text

    def _sign(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        sign, path = single_path(quantity.expression)  # type: ignore[misc]
        if not agrees(-value, quantity.printed):
            return None
        how = "its sign is flipped: the source's error term is Err = -∂E/∂net (and -∂E/∂θ)"
        flipped = f"-{path.text}" if sign > 0 else path.text
        suggested = entry(quantity, path=flipped)
        return self._explained(
            "source_sign_convention", how, quantity, -value, confirmation, suggested
        )

    def _off_by_one(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        sign, path = single_path(quantity.expression)  # type: ignore[misc]
        for steps, words in ((path.steps - 1, "one short"), (path.steps + 1, "one more")):
            candidate = sign * self.variants.after(path, steps)
            if agrees(candidate, quantity.printed):
                how = f"it is read after {steps} updates ({words})"
                return self._explained(
                    "source_off_by_one_update", how, quantity, candidate, confirmation
                )
        return None

    def _loss_factor(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        sign, path = single_path(quantity.expression)  # type: ignore[misc]
        problem: MLPProblem = self.values.problem  # type: ignore[union-attr]
        for factor, words in factors(problem):
            candidate = sign * self.variants.with_factor(path, factor)
            if agrees(candidate, quantity.printed):
                how = f"the source's loss is {factor:g}·E, {words}"
                return self._explained("source_loss_factor", how, quantity, candidate, confirmation)
        return None

    def _update_order(
        self, quantity: PublishedQuantity, value: float, confirmation: Confirmation
    ) -> Explanation | None:
        sign, path = single_path(quantity.expression)  # type: ignore[misc]
        candidate = sign * self.variants.output_first(path)
        if not agrees(candidate, quantity.printed):
            return None
        how = (
            "each layer is updated before the error terms of the layer below are taken (the "
            "hidden deltas use the already-updated weights above)"
        )
        return self._explained("source_update_order", how, quantity, candidate, confirmation)

    def _unexplained(
        self,
        quantity: PublishedQuantity,
        confirmation: Confirmation,
        tried: list[str],
        untried: list[str],
    ) -> Explanation:
        skipped = f"; could not try {', '.join(untried)}" if untried else ""
        sentence = (
            f"{confirmation.words}, and none of the usual causes in a source reproduces the "
            f"printed {quantity.printed} (tried: {', '.join(tried)}{skipped}): a misprint of "
            "the source, or a path that names another number"
        )
        suggested = erratum_entry(quantity, confirmation.right, "", confirmation.evidence)
        return Explanation("source_unexplained", sentence, None, suggested, confirmation.mirror)
