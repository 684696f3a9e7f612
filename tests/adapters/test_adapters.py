"""The adapters on code in the layouts people write: right code passes, bugs are caught.

The corpus (tests/corpus) holds Nielsen-, Saito- and CS231n-style code whose protocol comes
from the adapters alone; user_models.py adds a CS231n TwoLayerNet with regularisation, a
loss function, optimizers and a broken layer. Each adapter is checked on code in its layout
(no ``fail``) and on the same code with a bug (caught), says what it assumed, and declares
what it supports truthfully enough for the gate to draw its cases there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import manualbp
from manualbp import torch_mirror
from manualbp.adapters import Adapter, from_layers, from_model, from_nielsen
from manualbp.architecture import Architecture
from manualbp.checks import published
from manualbp.checks.base import declined
from manualbp.checks.layer import subjects_of
from manualbp.checks.support import supported_space
from manualbp.cli import build_parser, main
from manualbp.cli.commands import space_from
from manualbp.errors import ImplementationError
from manualbp.protocol import capabilities, load_implementation
from manualbp.space import ArchSpace, random_case

from . import user_models

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
SAITO_LAYERS = "tests/layers/user_layers/saito_layers.py"
CS231N_LAYERS = "tests/layers/user_layers/cs231n_layers.py"
ADAPTED = ("nielsen", "nielsen2", "saito", "cs231n")


@pytest.fixture(autouse=True)
def _from_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Specs are relative to the repository root, as ``manualbp verify`` is run there."""
    monkeypatch.chdir(ROOT)


def corpus_entries() -> dict:
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from corpus import CORPUS as entries
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return {entry.name: entry for entry in entries if entry.name in ADAPTED}


ENTRIES = corpus_entries()
BUGS = [(name, bug) for name, entry in ENTRIES.items() for bug in entry.bugs]


def space(*args: str) -> ArchSpace:
    return space_from(build_parser().parse_args(["verify", *args]))


def verified(report) -> list:
    return [f for f in report.findings if f.verdict != "skipped"]


@pytest.mark.parametrize("name", ADAPTED)
def test_corpus_code_passes_through_its_adapter(name: str) -> None:
    entry = ENTRIES[name]
    report = manualbp.check(entry.spec, cases=3, space=space(*entry.space_args))
    assert report.ok, report.failures[:1]
    assert {f.case for f in verified(report)} == {"case-0", "case-1", "case-2"}


@pytest.mark.parametrize(("name", "bug"), BUGS, ids=[b.spec.split(":")[-1] for _, b in BUGS])
def test_corpus_bugs_are_caught_through_the_adapters(name: str, bug) -> None:
    entry = ENTRIES[name]
    report = manualbp.check(
        bug.spec, cases=2, space=space(*entry.space_args, *bug.space_args), checks=("autograd",)
    )
    assert report.failures, f"{bug.spec} survived"


@pytest.mark.parametrize("name", ADAPTED)
def test_each_adapter_says_in_one_line_what_it_assumed(name: str) -> None:
    impl = load_implementation(ENTRIES[name].spec)
    assert isinstance(impl, Adapter)
    line = impl.describe()
    assert "\n" not in line and line.startswith(f"{impl.name}: ")
    assert impl.assumptions and all(part in line for part in impl.assumptions)
    offered = capabilities(impl)
    expected = {"nielsen": (True, True), "nielsen2": (False, True), "saito": (True, False)}
    assert (offered.step, offered.intermediates) == expected.get(name, (False, False))


def test_nielsen_supports_what_the_network_computes_and_the_gate_draws_there() -> None:
    impl = load_implementation(ENTRIES["nielsen"].spec)
    tanh = Architecture(sizes=(2, 3, 1), activations=("tanh", "sigmoid"))
    assert not impl.supports(tanh)
    with pytest.raises(NotImplementedError, match="sigmoid layers only"):
        impl.loss(tanh, {}, np.zeros((1, 2)), np.zeros((1, 1)))
    narrowed = supported_space(ArchSpace(), lambda case: declined(impl, case) is None)
    assert (narrowed.activations, narrowed.losses, narrowed.bias_modes) == (
        ("sigmoid",),
        ("half_sse",),
        ("per_unit",),
    )
    assert set(narrowed.reductions) == {"sum", "mean"}


def test_nielsen_intermediates_are_the_networks_own_values() -> None:
    impl = load_implementation(ENTRIES["nielsen"].spec)
    case = random_case(3, ArchSpace(activations=("sigmoid",), losses=("half_sse",),
                                    bias_modes=("per_unit",), reductions=("mean",)))  # fmt: skip
    mine = impl.intermediates(case.arch, case.params, case.x, case.y)
    ref = torch_mirror.backprop(case.arch, case.params, case.x, case.y)
    for key in ("z", "a", "delta"):
        for got, want in zip(mine[key], getattr(ref, key), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_model_is_built_from_its_constructors_parameter_names() -> None:
    """CS231n's TwoLayerNet(input_dim, hidden_dim, num_classes, ..., reg): one hidden relu
    layer, softmax over integer labels, reg = 0; nothing else is supported."""
    impl = from_model(user_models.TwoLayerNet)
    assert "regularisation off (reg=0)" in impl.describe()
    deep = Architecture(sizes=(2, 3, 3, 2), activations=("relu", "relu", "identity"),
                        loss="softmax_ce", reduction="mean")  # fmt: skip
    assert "one hidden layer" in impl.decline(deep)
    report = manualbp.check(impl, cases=3, isolate=False)
    assert report.ok and verified(report)
    assert {f.case for f in report.findings if f.check == "fd"} == {"case-0", "case-1", "case-2"}


def test_a_regularisation_that_cannot_be_turned_off_is_declared() -> None:
    """reg = 0.1 hard-coded: the loss is not the architecture's unless the adapter removes
    ½·0.1·Σ‖W‖² (and 0.1·W from the gradients), which the declaration asks it to."""
    undeclared = from_model(user_models.DecayedTwoLayerNet)
    assert not manualbp.check(undeclared, cases=2, isolate=False).ok
    declared = from_model(user_models.DecayedTwoLayerNet, weight_decay=0.1)
    assert "declared weight decay ½·0.1·Σ‖W‖² removed" in declared.describe()
    assert manualbp.check(declared, cases=2, isolate=False).ok


@pytest.mark.parametrize("optimizer", [user_models.sgd, user_models.SGD], ids=["sgd", "SGD"])
def test_step_is_the_users_optimizer_on_the_data_loss(optimizer) -> None:
    impl = from_model(user_models.DecayedTwoLayerNet, weight_decay=0.1, optimizer=optimizer)
    case = random_case(5, ArchSpace(fixed=(Architecture(
        sizes=(3, 4, 2), activations=("relu", "identity"), loss="softmax_ce",
        reduction="mean"),)))  # fmt: skip
    new = impl.step(case.arch, case.params, case.x, case.y, 0.3, frozen=frozenset({"b1"}))
    ref = torch_mirror.gradients(case.arch, case.params, case.x, case.y)[1]
    expected = torch_mirror.descend(case.params, ref, 0.3, frozenset({"b1"}))
    for name, value in expected.items():
        np.testing.assert_allclose(new[name], value, rtol=1e-12, atol=1e-14)
    assert np.array_equal(new["b1"], case.params["b1"])


def test_layers_of_a_cs231n_file_are_chained_into_a_network() -> None:
    impl = from_layers(CS231N_LAYERS)
    assert set(impl.layers) == {"affine", "relu", "softmax_ce"}
    report = manualbp.check(impl, cases=3, isolate=False)
    assert report.ok and verified(report)


@pytest.mark.parametrize("bias", ["shared", "none"])
def test_shared_and_absent_biases_go_through_the_affine_layer(bias: str) -> None:
    """b = β·1 (∂E/∂β = Σ db) and b = 0 (db dropped): the chain rule through that b."""
    impl = from_layers(CS231N_LAYERS)
    arch = Architecture(sizes=(3, 4, 4, 2), activations=("relu", "relu", "identity"),
                        loss="softmax_ce", bias=bias, reduction="mean")  # fmt: skip
    report = manualbp.check(impl, arch=arch, cases=2, isolate=False)
    assert report.ok and len(verified(report)) > 2


def _mazur_layers(sigmoid: object) -> Adapter:
    return from_layers(
        [f"{SAITO_LAYERS}:Affine", sigmoid, user_models.half_sse_loss],
        optimizer=user_models.SGD,
    )


def test_mazurs_example_through_the_users_own_layers() -> None:
    """Saito's Affine and Sigmoid, a half_sse loss function and Saito's SGD reproduce every
    figure of Mazur's post (shared biases, frozen) but its four known errata."""
    impl = _mazur_layers(f"{SAITO_LAYERS}:Sigmoid")
    (mazur,) = [r for r in published.default_references() if r.id == "mazur_2015"]
    verdicts = [f.verdict for f in published.run(impl, [mazur], impl_name=impl.name)]
    assert verdicts.count("pass") == 29 and verdicts.count("erratum") == 4


def test_a_broken_layer_is_caught_through_the_chain() -> None:
    broken = subjects_of(user_models.OutputSigmoid, "sigmoid")[0]
    impl = _mazur_layers(broken)
    report = manualbp.check(impl, cases=2, isolate=False, checks=("autograd",))
    assert report.failures
    (mazur,) = [r for r in published.default_references() if r.id == "mazur_2015"]
    findings = list(published.run(impl, [mazur], impl_name=impl.name))
    assert findings[0].verdict == "pass"  # net_h1: the forward pass is right
    assert "fail" in {f.verdict for f in findings if f.detail["path"].startswith("grad.")}


def nielsen_network() -> type:
    """The corpus's Nielsen-style Network class."""
    return load_implementation(ENTRIES["nielsen"].spec).network_class


BAD_ARGUMENTS = {
    "nielsen not a class": (lambda: from_nielsen(42), "expected the network class itself"),
    "nielsen without backprop": (lambda: from_nielsen(dict), "has no backprop"),
    "nielsen unnamed cost": (
        lambda: from_nielsen(nielsen_network(), cost=user_models.SGD),
        "cannot tell which loss",
    ),
    "nielsen cost without fn": (
        lambda: from_nielsen(nielsen_network(), cost={"bce": user_models.SGD}),
        "cannot be computed",
    ),
    "model unknown loss": (
        lambda: from_model(user_models.TwoLayerNet, loss="hinge"),
        "loss: got 'hinge'",
    ),
    "model cannot be built": (lambda: from_model(user_models.SGD), "has no loss method"),
    "model bad labels": (lambda: from_model(user_models.TwoLayerNet, labels="ints"), "labels"),
    "model negative decay": (
        lambda: from_model(user_models.TwoLayerNet, weight_decay=-1),
        "weight_decay",
    ),
    "layers with two affine layers": (
        lambda: from_layers([f"{SAITO_LAYERS}:Affine", CS231N_LAYERS]),
        "two layers of kind affine",
    ),
    "layers without a loss": (lambda: from_layers(f"{SAITO_LAYERS}:Affine"), "no loss layer"),
    "layers without affine": (lambda: from_layers(user_models.half_sse_loss), "no affine layer"),
    "architectures not a list": (
        lambda: from_layers(CS231N_LAYERS, architectures="all"),
        "architectures",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_bad_arguments_are_one_line_errors(name: str) -> None:
    make, words = BAD_ARGUMENTS[name]
    with pytest.raises(ImplementationError) as raised:
        make()
    assert "\n" not in str(raised.value) and words in str(raised.value)


def test_a_bad_adapter_call_in_a_users_file_exits_2(tmp_path: Path, capsys) -> None:
    user_file = tmp_path / "my_impl.py"
    user_file.write_text("import manualbp.adapters\nIMPL = manualbp.adapters.from_nielsen(42)\n")
    code = main(["verify", "--impl", f"{user_file}:IMPL", "--no-html", "--json",
                 str(tmp_path / "r.json")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "from_nielsen: got 42, expected the network class itself" in err
