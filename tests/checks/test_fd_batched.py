"""Batched coordinate perturbations (``perturbed_losses``) against per-vector ``loss`` calls."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

import manualbp.engine as engine
import manualbp.mazur as mazur
from manualbp.checks import fd
from manualbp.checks.fd.elementwise import COMPLEX_STEP
from manualbp.checks.fd.objective import Objective, unit_direction
from manualbp.engine.batched import batchable
from manualbp.errors import ParameterError
from manualbp.mutants import MUTANTS, get_mutant
from manualbp.space import ArchSpace, case_seed, random_case

SMALL = ArchSpace(depth=(1, 4), width=(1, 7), batch=(1, 5))


def both_paths(impl, case, index, steps):
    """(batched, per-vector) values of f(θ + t_m e_{i_m}) through one implementation."""
    batched = Objective(impl, case).coordinates(index, steps)
    plain = Objective(impl, case)
    plain.batched.clear()
    return batched, plain.coordinates(index, steps)


def both_lines(impl, case, direction, steps):
    """(batched, per-vector) values of f(θ + t_m u) along one direction u."""
    batched = Objective(impl, case).along(direction, steps)
    plain = Objective(impl, case)
    plain.batched.clear()
    return batched, plain.along(direction, steps)


def directions(case, rng):
    """A dense unit direction and one supported on the last tensor only (as Taylor's)."""
    objective = Objective(engine, case)
    dense = unit_direction(rng, objective.size)
    last = np.zeros(objective.size)
    *_, (_, part, _) = objective.tensors()
    last[part] = unit_direction(rng, part.stop - part.start)
    return dense, last


LADDER = 2.0 ** -np.arange(0, 28, 3)


def probe(case, rng, count=40):
    """Random coordinates of θ and real steps ~1e-3, the same coordinates with i·2^-66."""
    size = Objective(engine, case).size
    index = rng.integers(0, size, count)
    return index, 1e-3 * rng.standard_normal(count), np.full(count, 1j * COMPLEX_STEP)


def assert_same_function(batched, plain):
    """Real parts equal to rounding of the loss, the complex-step slopes Im f / h to
    rounding of the largest slope."""
    loss_scale = 1.0 + np.max(np.abs(plain.real))
    assert np.max(np.abs(batched.real - plain.real)) <= 64 * np.finfo(float).eps * loss_scale
    slopes = np.imag(plain) / COMPLEX_STEP
    difference = (np.imag(batched) - np.imag(plain)) / COMPLEX_STEP
    assert np.max(np.abs(difference)) <= 1e-12 * (1.0 + np.max(np.abs(slopes)))


@pytest.mark.parametrize("seed", range(12))
def test_engine_batched_losses_equal_loss_calls(seed):
    case = random_case(case_seed(5, seed), SMALL if seed % 2 else ArchSpace())
    rng = np.random.default_rng(seed)
    index, real, imaginary = probe(case, rng)
    for steps in (real, imaginary):
        assert_same_function(*both_paths(engine, case, index, steps))
    for direction in directions(case, rng):
        for steps in (np.concatenate([LADDER, -LADDER]), imaginary[:3]):
            assert_same_function(*both_lines(engine, case, direction, steps))


def mutant_case(mutant, seed=3):
    return random_case(case_seed(17, seed), mutant.space)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_batched_or_declined_gives_its_own_loss(name):
    mutant = get_mutant(name)
    case = mutant_case(mutant)
    rng = np.random.default_rng(0)
    index, real, imaginary = probe(case, rng, count=12)
    dense, _ = directions(case, rng)
    for steps in (real, imaginary):
        for paths, where in ((both_paths, index), (both_lines, dense)):
            mutant.reset()
            batched, plain = paths(mutant, case, where, steps)
            mutant.reset()
            assert_same_function(batched, plain)


def test_forward_wiring_mutants_are_batched_only_through_their_own_forward():
    offered = {}
    for mutant in MUTANTS.values():
        if mutant.category == "forward wiring":
            objective = Objective(mutant, mutant_case(mutant))
            objective.coordinates(np.array([0]), np.array([1e-3]))
            objective.along(np.ones(objective.size), np.array([1e-3]))
            offered[mutant.name] = sorted(objective.batched)
    assert offered == {
        "mazur-w7-reads-out-h2": [],  # overrides Network.forward
        "forward-W-not-transposed": [],  # overrides Affine.forward
        # overrides ActivationLayer.forward (passes z on, caches f(z))
        "forward-next-layer-reads-z": [],
    }


def test_mutant_feeding_z_onwards_is_differentiated_through_its_own_loss():
    """Regression: the batched path once rebuilt this mutant's loss from the values its
    activation layer passes on (z) where ``loss`` reads its cache (f(z)) at the output:
    7.976 against 1.057 on this case (seed 2968811710), so fd called every entry a kink."""
    mutant = get_mutant("forward-next-layer-reads-z")
    case = random_case(2968811710, mutant.space)
    objective = Objective(mutant, case)
    index, steps = np.arange(4), np.full(4, 1e-3)
    plain = [
        mutant.loss(case.arch, moved(case.params, "W1", i, t), case.x, case.y)
        for i, t in zip(index, steps, strict=True)
    ]
    assert np.allclose(objective.coordinates(index, steps), plain, rtol=1e-13, atol=0.0)


def test_mazur_network_has_no_batched_path_and_is_unchanged():
    case = random_case(0, ArchSpace(fixed=(mazur.ARCHITECTURE,)))
    objective = Objective(mazur, case)
    assert not objective.batched
    values = objective.coordinates(np.arange(4), np.full(4, 1e-3))
    assert values.shape == (4,) and np.all(np.isfinite(values))


def without_batching(impl):
    return SimpleNamespace(
        loss=impl.loss, gradients=impl.gradients, supports_complex=True, name="plain"
    )


def verdict_counts(findings):
    return Counter((f.quantity.split("[")[0], f.method, f.verdict) for f in findings)


@pytest.mark.parametrize("impl", [engine, get_mutant("bias-gradient-averaged")])
def test_fd_verdicts_are_unchanged_by_batching(impl):
    space = getattr(impl, "space", SMALL)
    cases = [random_case(case_seed(23, i), space) for i in range(3)]
    batched = verdict_counts(fd.run(impl, cases, impl_name="x"))
    plain = verdict_counts(fd.run(without_batching(impl), cases, impl_name="x"))
    assert batched == plain
    assert any(verdict == "fail" for *_, verdict in batched) == (impl is not engine)


def test_declining_implementation_falls_back_to_loss():
    def perturbed_losses(*args):
        raise NotImplementedError("not for this case")

    impl = SimpleNamespace(
        loss=engine.loss, gradients=engine.gradients, perturbed_losses=perturbed_losses
    )
    case = random_case(4, SMALL)
    index, steps = np.array([0, 1]), np.array([1e-3, -1e-3])
    objective = Objective(impl, case)
    values = objective.coordinates(index, steps)
    assert not objective.batched
    assert np.array_equal(values, both_paths(engine, case, index, steps)[1])


def test_malformed_batched_losses_fail_the_method_naming_perturbed_losses():
    impl = SimpleNamespace(
        loss=engine.loss,
        gradients=engine.gradients,
        perturbed_losses=lambda arch, params, x, y, name, index, steps: np.zeros(1),
    )
    findings = list(fd.run(impl, [random_case(4, SMALL)], impl_name="broken"))
    failed = [f for f in findings if f.verdict == "fail" and f.method == "central"]
    assert failed and "perturbed_losses() returned" in failed[0].reason


@pytest.mark.parametrize(
    ("name", "index", "message"),
    [("W9", [0], "name: got 'W9'"), ("W1", [10**6], "index: expected flat indices")],
)
def test_bad_perturbation_arguments_name_what_was_wrong(name, index, message):
    case = random_case(4, SMALL)
    with pytest.raises(ParameterError, match=message):
        engine.perturbed_losses(case.arch, case.params, case.x, case.y, name, index, [1e-3])


def test_overridden_forward_is_not_batchable():
    mutant = get_mutant("forward-W-not-transposed")
    assert not batchable(mutant.network_class(mutant_case(mutant).arch))
    assert batchable(engine.Network(mutant_case(mutant).arch))


def moved(params, name, index, step):
    """A copy of ``params`` with params[name].flat[index] moved by ``step``."""
    copy = {key: np.array(value, copy=True) for key, value in params.items()}
    copy[name].flat[index] += step
    return copy
