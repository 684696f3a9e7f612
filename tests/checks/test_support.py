"""Narrowing the case space to what an implementation takes, by asking it."""

from __future__ import annotations

from manualbp import engine
from manualbp.architecture import Architecture
from manualbp.checks.base import declined
from manualbp.checks.support import supported_space
from manualbp.mutants import MUTANTS
from manualbp.space import ArchSpace


class Only:
    """The engine, taking only the architectures ``accepts`` allows."""

    def __init__(self, accepts) -> None:
        self.accepts = accepts

    def supports(self, arch: Architecture) -> bool:
        return self.accepts(arch)

    def loss(self, arch, params, x, y):
        return engine.loss(arch, params, x, y)

    def gradients(self, arch, params, x, y):
        return engine.gradients(arch, params, x, y)


def narrowed(impl: object, space: ArchSpace | None = None) -> ArchSpace:
    return supported_space(space or ArchSpace(), lambda case: declined(impl, case) is None)


def test_an_implementation_of_one_activation_and_loss_is_drawn_only_there() -> None:
    sigmoid_sse = Only(lambda a: set(a.activations) == {"sigmoid"} and a.loss == "half_sse")
    space = narrowed(sigmoid_sse)
    assert (space.activations, space.losses) == (("sigmoid",), ("half_sse",))
    assert space.bias_modes == ArchSpace().bias_modes and space.depth == (1, 5)


def test_hidden_activations_are_found_behind_an_output_a_loss_requires() -> None:
    """bce needs a sigmoid output; tanh hidden layers are found all the same."""
    bce_tanh = Only(lambda a: a.loss == "bce" and set(a.activations[:-1]) <= {"tanh"})
    space = narrowed(bce_tanh)
    assert set(space.activations) == {"sigmoid", "tanh"} and space.losses == ("bce",)


def test_limits_of_depth_and_width_are_found() -> None:
    small = Only(lambda a: a.depth <= 2 and max(a.sizes) <= 6)
    space = narrowed(small)
    assert space.depth == (1, 2) and space.width == (1, 6)


def test_what_takes_everything_keeps_its_space_exactly() -> None:
    assert narrowed(engine) == ArchSpace()
    for mutant in MUTANTS.values():  # selftest's cases must not move
        assert narrowed(mutant, mutant.space) == mutant.space, mutant.name


def test_an_implementation_that_takes_nothing_keeps_the_space_and_is_declined() -> None:
    nothing = Only(lambda a: False)
    assert narrowed(nothing) == ArchSpace()
