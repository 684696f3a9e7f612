"""Hypothesis strategies for architectures, parameters, batches and whole cases (public API).

Use them in your own property tests::

    from hypothesis import given
    from manualbp import strategies as mbs

    @given(mbs.cases(depth=2, activations="relu"))
    def test_my_backprop(case):
        assert my_loss(case.arch, case.params, case.x, case.y) >= 0

Every argument takes a plain value, which means exactly that value, or a strategy, as in
``hypothesis.extra.numpy``; an argument left as None is drawn from the range of an
:class:`~manualbp.space.ArchSpace` (``space=``, by default ``ArchSpace()``), the single
source of the defaults: depth 1–5, widths 1–16 with square layers, every activation, loss,
bias mode and reduction, batch 1–16, and parameter scales that saturate sigmoids (4.0) or
put ReLU inputs next to the kink (1e-3).

Design: Hypothesis draws the *shape* of a case — architecture, batch size, parameter scale —
and an integer seed; the numbers are then drawn by ``numpy.random.default_rng(seed)``
(:func:`manualbp.case.case_from_seed`). The shape shrinks towards a minimal network (one
layer, width 1, batch 1, identity activations, no bias) while the values stay those of a
generic random case: shrinking float arrays entry by entry would drive them to 0.0 and
to ties, exactly the degenerate points (ReLU kinks) where gradients are not defined, and
would make a case unreproducible outside Hypothesis. The seed, printed with every failing
example (:func:`rebuild_hint`), rebuilds the case with one call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, find, note, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.strategies import SearchStrategy

from manualbp.architecture import (
    ACTIVATIONS,
    BIAS_MODES,
    LOSS_OUTPUT_ACTIVATION,
    LOSSES,
    REDUCTIONS,
    Architecture,
)
from manualbp.case import Case, case_from_seed
from manualbp.errors import UsageError
from manualbp.facts import SIMPLEST_ACTIVATIONS
from manualbp.params import Params
from manualbp.space import ArchSpace

T = TypeVar("T")

#: Shrinking goes towards the front of each tuple: the simplest choice first.
SIMPLEST_BIAS_MODES: tuple[str, ...] = ("none", "shared", "per_unit")
#: Seeds are 32-bit so that they print short and fit ``--case-seed``.
MAX_SEED = 2**32 - 1


def _simplest_first(choices: Sequence[str], order: Sequence[str]) -> list[str]:
    return sorted(choices, key=order.index)


def _as_strategy(value: T | SearchStrategy[T] | None, default: SearchStrategy[T]) -> Any:
    """A strategy as given, st.just(value) for a plain value, ``default`` for None."""
    if value is None:
        return default
    if isinstance(value, SearchStrategy):
        return value
    return st.just(value)


def _positive(name: str, value: object) -> None:
    if value is None or isinstance(value, SearchStrategy):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name}: got {value!r}, expected a positive integer or a strategy")


def _named(name: str, value: object, allowed: Sequence[str]) -> None:
    if value is None or isinstance(value, SearchStrategy):
        return
    if value not in allowed:
        raise UsageError(f"{name}: got {value!r}, expected one of {', '.join(allowed)}")


def _square_default(space: ArchSpace) -> SearchStrategy[bool]:
    if space.square <= 0.0:
        return st.just(False)
    if space.square >= 1.0:
        return st.just(True)
    return st.booleans()


def architectures(
    depth: int | SearchStrategy[int] | None = None,
    widths: int | SearchStrategy[int] | None = None,
    activations: str | SearchStrategy[str] | None = None,
    losses: str | SearchStrategy[str] | None = None,
    bias_modes: str | SearchStrategy[str] | None = None,
    reductions: str | SearchStrategy[str] | None = None,
    square: bool | SearchStrategy[bool] | None = None,
    *,
    space: ArchSpace | None = None,
) -> SearchStrategy[Architecture]:
    """Strategy for :class:`~manualbp.architecture.Architecture` objects.

    depth: layers with parameters (L); widths: the width of every layer, inputs included,
    each drawn independently (or one for all when ``square``); activations: one per layer;
    losses, bias_modes, reductions: one per architecture. The output layer takes the
    activation its loss requires (``bce``: sigmoid, ``softmax_ce``: identity). A space with
    ``fixed`` architectures draws among them (and then takes no other argument).

    >>> from hypothesis import strategies as st
    >>> architectures(depth=2, widths=st.integers(2, 4), activations="tanh")  # doctest: +SKIP
    """
    space = space or ArchSpace()
    given = (depth, widths, activations, losses, bias_modes, reductions, square)
    if space.fixed:
        if any(value is not None for value in given):
            raise UsageError("architectures: a space with fixed architectures takes no arguments")
        return st.sampled_from(space.fixed)
    _positive("depth", depth)
    _positive("widths", widths)
    _named("activations", activations, ACTIVATIONS)
    _named("losses", losses, LOSSES)
    _named("bias_modes", bias_modes, BIAS_MODES)
    _named("reductions", reductions, REDUCTIONS)
    depth_s = _as_strategy(depth, st.integers(*space.depth))
    width_s = _as_strategy(widths, st.integers(*space.width))
    activation_s = _as_strategy(
        activations, st.sampled_from(_simplest_first(space.activations, SIMPLEST_ACTIVATIONS))
    )
    loss_s = _as_strategy(losses, st.sampled_from(space.usable_losses()))
    bias_s = _as_strategy(
        bias_modes, st.sampled_from(_simplest_first(space.bias_modes, SIMPLEST_BIAS_MODES))
    )
    reduction_s = _as_strategy(reductions, st.sampled_from(space.reductions))
    square_s = _as_strategy(square, _square_default(space))

    @st.composite
    def draw_architecture(draw: Callable[[SearchStrategy[Any]], Any]) -> Architecture:
        L = draw(depth_s)
        if draw(square_s):
            sizes = [draw(width_s)] * (L + 1)
        else:
            sizes = draw(st.lists(width_s, min_size=L + 1, max_size=L + 1))
        loss = draw(loss_s)
        chosen = draw(st.lists(activation_s, min_size=L, max_size=L))
        if loss in LOSS_OUTPUT_ACTIVATION:
            chosen[-1] = LOSS_OUTPUT_ACTIVATION[loss]
        return Architecture(
            sizes=tuple(sizes),
            activations=tuple(chosen),
            loss=loss,
            bias=draw(bias_s),
            reduction=draw(reduction_s),
        )

    return draw_architecture()


def rebuild_hint(case: Case) -> str:
    """The Python call that rebuilds a case drawn by :func:`cases`, e.g. for a report::

    case_from_seed(Architecture.from_json('{...}'), seed=7, batch_size=1, scale=None)
    """
    return (
        f"case_from_seed(Architecture.from_json({case.arch.to_json()!r}), seed={case.seed}, "
        f"batch_size={case.batch_size}, scale={case.meta.get('scale')!r})"
    )


def cases(
    arch: Architecture | SearchStrategy[Architecture] | None = None,
    *,
    batch_size: int | SearchStrategy[int] | None = None,
    scale: float | SearchStrategy[float | None] | None = None,
    seed: int | SearchStrategy[int] | None = None,
    space: ArchSpace | None = None,
    **arch_options: Any,
) -> SearchStrategy[Case]:
    """Strategy for :class:`~manualbp.case.Case` objects: architecture, then batch size,
    parameter scale and seed; parameters ~ N(0, scale²) and batch drawn from the seed.

    arch: an Architecture or a strategy (default: :func:`architectures` with
    ``arch_options`` and ``space``); scale: a float, or a strategy that may yield None for
    1/sqrt(fan_in) (default: one of ``space.scales``). Each case is named ``seed-<seed>``
    and, on failure, Hypothesis prints its :func:`rebuild_hint`.

    >>> cases(depth=1, batch_size=1, scale=4.0)  # doctest: +SKIP
    """
    space = space or ArchSpace()
    if arch is not None and arch_options:
        raise UsageError(
            f"cases: got arch and {', '.join(arch_options)}, expected one or the other"
        )
    _positive("batch_size", batch_size)
    if not (seed is None or isinstance(seed, SearchStrategy)) and not (
        isinstance(seed, int) and 0 <= seed <= MAX_SEED
    ):
        raise UsageError(f"seed: got {seed!r}, expected an integer in [0, {MAX_SEED}]")
    arch_s = _as_strategy(arch, architectures(space=space, **arch_options))
    batch_s = _as_strategy(batch_size, st.integers(*space.batch))
    scale_s = _as_strategy(scale, st.sampled_from(space.scales))
    seed_s = _as_strategy(seed, st.integers(0, MAX_SEED))

    @st.composite
    def draw_case(draw: Callable[[SearchStrategy[Any]], Any]) -> Case:
        arch_drawn, batch, scale_drawn = draw(arch_s), draw(batch_s), draw(scale_s)
        # the seed is drawn last, so shrinking prefers a smaller shape to a smaller seed
        drawn = case_from_seed(arch_drawn, seed=draw(seed_s), batch_size=batch, scale=scale_drawn)
        note(f"rebuild: {rebuild_hint(drawn)}")
        return drawn

    return draw_case()


def parameters(
    arch: Architecture,
    *,
    scale: float | SearchStrategy[float | None] | None = None,
    seed: int | SearchStrategy[int] | None = None,
    space: ArchSpace | None = None,
) -> SearchStrategy[Params]:
    """Strategy for parameter dicts of ``arch`` ({"W1": (n1, n0), "b1": ..., ...}), drawn
    ~ N(0, scale²) from a seed as in :func:`cases` (the seed is printed on failure).

    >>> parameters(Architecture((2, 2, 2), ("sigmoid", "sigmoid")), scale=4.0)  # doctest: +SKIP
    """
    return cases(arch, batch_size=1, scale=scale, seed=seed, space=space).map(
        lambda case: case.params
    )


def batches(
    arch: Architecture,
    *,
    batch_size: int | SearchStrategy[int] | None = None,
    seed: int | SearchStrategy[int] | None = None,
    space: ArchSpace | None = None,
) -> SearchStrategy[tuple[Any, Any]]:
    """Strategy for batches (x (N, inputs), y (N, outputs)) of ``arch``: x ~ N(0, 1), targets
    valid for the loss (one-hot for softmax_ce, in [0, 1] otherwise), drawn from a seed.

    >>> batches(Architecture((3, 2), ("sigmoid",), loss="bce"), batch_size=4)  # doctest: +SKIP
    """
    return cases(arch, batch_size=batch_size, seed=seed, space=space).map(
        lambda case: (case.x, case.y)
    )


def shrink_failure(
    impl: object,
    fails: Callable[[object, Case], bool] | None = None,
    space: ArchSpace | None = None,
    *,
    max_examples: int = 100,
    budget: int = 400,
) -> Case | None:
    """The smallest case of ``space`` on which ``fails(impl, case)`` is true, or None.

    ``fails`` defaults to "the autograd check reports a fail"
    (:func:`manualbp.checks.autograd.has_failure`). Hypothesis generates up to
    ``max_examples`` cases and shrinks the first failing one towards fewer and narrower
    layers, batch 1 and the simplest choices; ``budget`` bounds the number of distinct
    cases ``fails`` is evaluated on (searching and shrinking), after which the smallest
    failing case found so far is returned. Deterministic: the same inputs give the same
    case. Print ``case.seed`` or :func:`rebuild_hint` to reproduce it.
    """
    if fails is None:
        from manualbp.checks.autograd import has_failure

        fails = has_failure
    verdicts: dict[tuple[Any, ...], bool] = {}

    def condition(case: Case) -> bool:
        key = (case.arch, case.seed, case.batch_size, case.meta.get("scale"))
        if key not in verdicts:
            verdicts[key] = len(verdicts) < budget and bool(fails(impl, case))
        return verdicts[key]

    search = settings(
        max_examples=max_examples,
        database=None,
        derandomize=True,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )
    try:
        return find(cases(space=space), condition, settings=search)
    except NoSuchExample:
        return None


def space_below(case: Case) -> ArchSpace:
    """The ArchSpace of cases no larger than ``case`` and made of its own choices (its
    activations, loss, bias mode, reduction and scale): where :func:`shrink_failure` looks
    for a smaller version of a failure found on ``case``."""
    arch = case.arch
    return ArchSpace(
        depth=(1, arch.depth),
        width=(1, max(arch.sizes)),
        activations=tuple(dict.fromkeys(arch.activations)),
        losses=(arch.loss,),
        bias_modes=(arch.bias,),
        reductions=(arch.reduction,),
        batch=(1, case.batch_size),
        scales=(case.meta.get("scale"),),
    )
