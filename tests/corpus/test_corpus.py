"""The corpus proved independently of the gate: every correct implementation agrees with the
float64 torch mirror at tame points, every bug behaves differently from its implementation
wherever its registry entry says it shows, and the registry itself is well formed.

Tame points: parameters drawn at scale 0.5 (no saturation, no overflow), small networks and
batches. Nothing here runs ``manualbp verify``; the gate's verdicts on the corpus are the
lead's tests.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from manualbp import torch_mirror
from manualbp.architecture import Architecture
from manualbp.case import Case
from manualbp.cli import build_parser
from manualbp.diagnosis import KINDS
from manualbp.protocol import load_implementation
from manualbp.space import ArchSpace, random_case

from . import CORPUS, Bug, CorpusEntry

ROOT = Path(__file__).resolve().parents[2]
#: Relative agreement of a correct implementation with the mirror (tensor-wide scale).
RTOL = 1e-10
#: Cases drawn per correct implementation, and per bug.
IMPL_CASES = 40
BUG_CASES = 6
#: Learning rate of the steps compared here.
LR = 0.1

BUGS = [(entry, bug) for entry in CORPUS for bug in entry.bugs]
BUG_IDS = [f"{entry.name}:{bug.spec.split(':')[-1]}" for entry, bug in BUGS]


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Specs are relative to the repository root, as ``manualbp verify`` is run there."""
    monkeypatch.chdir(ROOT)


def _capped(bounds: tuple[int, int], cap: int) -> tuple[int, int]:
    low, high = bounds
    return low, max(low, min(high, cap))


def tame_space(impl: object, *space_args: str) -> ArchSpace:
    """The case space the ``manualbp verify`` options describe, as the CLI parses them, at
    parameter scale 0.5 with widths, depths and batches capped small (lower bounds kept)."""
    args = build_parser().parse_args(["verify", *space_args])
    fields: dict[str, Any] = {"scales": (0.5,)}
    for key in ("activations", "losses", "bias_modes", "reductions"):
        if getattr(args, key) is not None:
            fields[key] = getattr(args, key)
    for key, default, cap in (("depth", (1, 5), 3), ("width", (1, 16), 5), ("batch", (1, 16), 8)):
        fields[key] = _capped(getattr(args, key) or default, cap)
    declared = getattr(impl, "architectures", None)
    if declared:
        fields["fixed"] = tuple(declared)
    return ArchSpace(**fields)


def runs(impl: object, arch: Architecture, params: Any, x: Any, y: Any) -> bool:
    """Whether ``impl`` covers ``arch``, by whichever declaration it uses."""
    supports = getattr(impl, "supports", None)
    if callable(supports) and not supports(arch):
        return False
    try:
        impl.loss(arch, copy.deepcopy(params), x.copy(), y.copy())
    except NotImplementedError:
        return False
    return True


def supported_cases(impl: object, space: ArchSpace, count: int) -> list[Case]:
    cases = [random_case(seed, space) for seed in range(count)]
    return [c for c in cases if runs(impl, c.arch, c.params, c.x, c.y)]


def frozen_names(arch: Architecture) -> frozenset[str]:
    biases = frozenset(name for name in arch.param_names if name.startswith("b"))
    return biases or frozenset({"W1"})


def assert_close(impl: Any, ref: Any, scale: float, what: str) -> None:
    impl, ref = np.asarray(impl), np.asarray(ref)
    assert impl.shape == ref.shape, f"{what}: shape {impl.shape}, expected {ref.shape}"
    np.testing.assert_allclose(impl, ref, rtol=RTOL, atol=RTOL * scale, err_msg=what)


# --- the registry -------------------------------------------------------------------------


def test_the_corpus_has_at_least_six_entries_with_four_bugs_each() -> None:
    assert len(CORPUS) >= 6
    assert len({entry.name for entry in CORPUS}) == len(CORPUS)
    specs = [entry.spec for entry in CORPUS] + [bug.spec for _, bug in BUGS]
    assert len(set(specs)) == len(specs)
    for entry in CORPUS:
        assert len(entry.bugs) >= 4, entry.name


def test_the_corpus_mixes_the_ways_of_declaring_what_it_supports() -> None:
    impls = [load_implementation(entry.spec) for entry in CORPUS]
    assert any(callable(getattr(impl, "supports", None)) for impl in impls)
    assert any(getattr(impl, "architectures", None) for impl in impls)
    undeclared = [
        impl
        for impl in impls
        if not callable(getattr(impl, "supports", None))
        and not getattr(impl, "architectures", None)
    ]
    assert undeclared, "some implementation should declare nothing and raise NotImplementedError"
    assert any(callable(getattr(impl, "step", None)) for impl in impls)
    assert any(callable(getattr(impl, "intermediates", None)) for impl in impls)
    assert not all(callable(getattr(impl, "step", None)) for impl in impls)
    assert any(getattr(impl, "supports_complex", False) is True for impl in impls)


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)
def test_entry_specs_load_and_name_their_own_module(entry: CorpusEntry) -> None:
    module = f"tests/corpus/{entry.name}.py"
    assert (ROOT / module).is_file()
    assert entry.spec == f"{module}:IMPL"
    assert entry.style and "\n" not in entry.style
    impl = load_implementation(entry.spec)
    build_parser().parse_args(["verify", *entry.space_args])  # valid CLI options
    names = {getattr(impl, "name", None)}
    for bug in entry.bugs:
        assert bug.spec.startswith(f"{module}:BUG_"), bug.spec
        loaded = load_implementation(bug.spec)
        assert type(loaded).__module__ == type(impl).__module__  # a change, not a copy
        names.add(getattr(loaded, "name", None))
    assert None not in names and len(names) == len(entry.bugs) + 1


@pytest.mark.parametrize(("entry", "bug"), BUGS, ids=BUG_IDS)
def test_bug_declares_a_diagnosis_kind_and_valid_options(entry: CorpusEntry, bug: Bug) -> None:
    assert set(bug.kinds) <= set(KINDS) and len(set(bug.kinds)) == len(bug.kinds)
    assert bug.description and "\n" not in bug.description
    build_parser().parse_args(["verify", *entry.space_args, *bug.space_args])
    assert not re.search(r"(^|\s)/", " ".join(bug.space_args)), "no absolute paths"


# --- the correct implementations agree with the mirror -------------------------------------


def _fields(arch: Architecture) -> dict[str, set[str]]:
    return {
        "activations": set(arch.activations),
        "losses": {arch.loss},
        "bias_modes": {arch.bias},
        "reductions": {arch.reduction},
    }


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)
def test_correct_implementation_agrees_with_the_torch_mirror(entry: CorpusEntry) -> None:
    impl = load_implementation(entry.spec)
    space = tame_space(impl, *entry.space_args)
    cases = supported_cases(impl, space, IMPL_CASES)
    assert len(cases) >= IMPL_CASES // 4, f"only {len(cases)} supported cases"
    seen: dict[str, set[str]] = {key: set() for key in _fields(cases[0].arch)}
    for case in cases:
        for key, values in _fields(case.arch).items():
            seen[key] |= values
        check_against_mirror(impl, case)
    # every family of the declared space was exercised
    expected = (
        {key: set().union(*(_fields(a)[key] for a in space.fixed)) for key in seen}
        if space.fixed
        else {
            "activations": set(space.activations),
            "losses": set(space.usable_losses()),
            "bias_modes": set(space.bias_modes),
            "reductions": set(space.reductions),
        }
    )
    assert seen == expected


def check_against_mirror(impl: Any, case: Case) -> None:
    arch, params, x, y = case.arch, case.params, case.x, case.y
    before = copy.deepcopy((params, x, y))
    ref = torch_mirror.backprop(arch, params, x, y)
    where = f"{arch.describe()} batch {len(x)} seed {case.seed}"
    scale = max(float(np.max(np.abs(g))) for g in ref.gradients.values())

    assert_close(impl.loss(arch, params, x, y), ref.loss, 1e-4, f"loss, {where}")
    loss, grads = impl.gradients(arch, params, x, y)
    assert_close(loss, ref.loss, 1e-4, f"loss from gradients(), {where}")
    assert set(grads) == set(ref.gradients)
    for name, g in ref.gradients.items():
        assert_close(grads[name], g, scale, f"{name}, {where}")

    if callable(getattr(impl, "intermediates", None)):
        kept = impl.intermediates(arch, params, x, y)
        for key, reference in (("z", ref.z), ("a", ref.a), ("delta", ref.delta)):
            assert len(kept[key]) == arch.depth
            top = max(float(np.max(np.abs(r))) for r in reference)
            for layer, (mine, theirs) in enumerate(zip(kept[key], reference, strict=True), 1):
                assert_close(mine, theirs, top, f"{key}.{layer}, {where}")

    if callable(getattr(impl, "step", None)):
        for frozen in (frozenset(), frozen_names(arch)):
            new = impl.step(arch, params, x, y, LR, frozen=frozen)
            expected = torch_mirror.descend(params, ref.gradients, LR, frozen)
            top = max(float(np.max(np.abs(p))) for p in params.values()) + LR * scale
            for name in arch.param_names:
                if name in frozen:
                    assert np.array_equal(new[name], params[name]), f"frozen {name} moved"
                else:
                    assert_close(new[name], expected[name], top, f"step {name}, {where}")

    for now, then in zip((params, x, y), before, strict=True):
        if isinstance(now, dict):
            for name in now:
                assert np.array_equal(now[name], then[name]), f"{name} mutated, {where}"
        else:
            assert np.array_equal(now, then), f"batch mutated, {where}"


# --- every bug is a bug where its entry says it shows ---------------------------------------


def observe(impl: Any, case: Case) -> dict[str, Any]:
    """What an implementation does on a case: loss, two gradients() calls, a step with the
    biases frozen (when it has step), and its inputs afterwards. Exceptions are recorded."""
    arch = case.arch
    params, x, y = copy.deepcopy((case.params, case.x, case.y))
    seen: dict[str, Any] = {}

    def record(key: str, call: Any) -> None:
        try:
            seen[key] = call()
        except Exception as exc:  # a crash is behaviour too
            seen[key] = f"raised {type(exc).__name__}"

    record("loss", lambda: impl.loss(arch, params, x, y))
    record("gradients", lambda: impl.gradients(arch, params, x, y))
    record("gradients again", lambda: impl.gradients(arch, params, x, y))
    if callable(getattr(impl, "step", None)):
        record("step", lambda: impl.step(arch, params, x, y, LR, frozen=frozen_names(arch)))
    seen["inputs afterwards"] = (params, x, y)
    return seen


def _flat(value: Any) -> list[np.ndarray]:
    if isinstance(value, dict):
        return [a for key in sorted(value) for a in _flat(value[key])]
    if isinstance(value, tuple):
        return [a for item in value for a in _flat(item)]
    return [np.asarray(value)]


def same(a: Any, b: Any) -> bool:
    """Equal structure and shapes, values equal to 1e-9 of the largest entry."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, dict) and (not isinstance(b, dict) or set(a) != set(b)):
        return False
    left, right = _flat(a), _flat(b)
    if len(left) != len(right) or any(p.shape != q.shape for p, q in zip(left, right, strict=True)):
        return False
    scale = max([float(np.max(np.abs(q))) for q in right if q.size] + [1e-300])
    return all(
        np.allclose(p, q, rtol=0.0, atol=1e-9 * scale) for p, q in zip(left, right, strict=True)
    )


@pytest.mark.parametrize(("entry", "bug"), BUGS, ids=BUG_IDS)
def test_bug_changes_behaviour_on_every_case_of_its_space(entry: CorpusEntry, bug: Bug) -> None:
    impl = load_implementation(entry.spec)
    buggy = load_implementation(bug.spec)
    space = tame_space(impl, *entry.space_args, *bug.space_args)
    cases = supported_cases(impl, space, BUG_CASES * 3)[:BUG_CASES]
    assert len(cases) >= 3, f"only {len(cases)} supported cases in the bug's space"
    for case in cases:
        right, wrong = observe(impl, case), observe(buggy, case)
        assert not any(isinstance(v, str) for v in right.values()), right
        changed = [key for key in right if not same(wrong[key], right[key])]
        assert changed, f"{bug.spec} behaves like IMPL on {case.arch.describe()}, seed {case.seed}"
