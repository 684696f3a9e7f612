"""`manualbp verify` as a user runs it: exit codes, bugs caught through --impl, bad input,
skipped cases, sharding and processes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from manualbp.architecture import Architecture
from manualbp.cli import main
from manualbp.mutants import get_mutant
from manualbp.report.model import read_report
from manualbp.space import ArchSpace, random_case

SMALL = ["--depth", "1-2", "--width", "1-4", "--batch", "1-4"]


def verify(tmp_path: Path, *args: str) -> tuple[int, Path]:
    """Run ``manualbp verify`` in-process with its report under tmp_path."""
    report = tmp_path / "report.json"
    code = main(["verify", "--json", str(report), *args])
    return code, report


def test_default_implementations_pass(tmp_path, capsys):
    code, path = verify(tmp_path, "--cases", "3")
    out = capsys.readouterr().out
    assert code == 0, out
    report = read_report(path)
    impls = {f.impl for f in report.findings}
    assert {"manualbp.engine", "manualbp.mazur"} <= impls
    verdicts = {f.verdict for f in report.findings}
    assert "fail" not in verdicts
    assert "erratum" in verdicts  # Mazur's known errata are shown, and do not fail the gate
    assert "PASS" in out


# One mutant per bug kind; each must turn the gate red through --impl.
BUGS = [
    "forward_W_not_transposed",  # wrong forward
    "relu_mask_missing",  # missing activation derivative
    "hidden_error_W_not_transposed",  # transposed
    "hidden_error_wrong_layer_matrix",  # wrong layer's matrix (S0b)
    "first_layer_error_never_computed",  # zero
    "weight_gradient_averaged",  # factor 1/N
    "squared_loss_gradient_sign_flipped",  # sign flip
    "hidden_update_not_assigned",  # update never assigned (S0b)
    "frozen_parameters_updated",  # frozen parameters updated
    "gradients_accumulate_across_calls",  # inconsistent between calls
    "tanh_derivative_at_output",  # derivative at the output
]


def space_words(space: ArchSpace) -> list[str]:
    """The verify options that draw from ``space``, with widths and batches kept small."""
    default = ArchSpace()
    words = []
    for name in ("activations", "losses", "bias_modes", "reductions"):
        if getattr(space, name) != getattr(default, name):
            words += [f"--{name.replace('_', '-')}", ",".join(getattr(space, name))]
    low, high = space.width
    words += ["--depth", "{}-{}".format(*space.depth), "--width", f"{low}-{min(high, max(low, 5))}"]
    low, high = space.batch
    return [*words, "--batch", f"{low}-{min(high, max(low, 4))}"]


@pytest.mark.parametrize("identifier", BUGS)
def test_single_bug_turns_the_gate_red(tmp_path, capsys, identifier):
    mutant = get_mutant(identifier.replace("_", "-"))
    code, path = verify(
        tmp_path,
        "--no-shrink",
        "--impl",
        mutant.spec,
        "--cases",
        "3",
        "--checks",
        "fd,autograd",
        *space_words(mutant.space),
    )
    out = capsys.readouterr().out
    assert code == 1, out
    failing = [f for f in read_report(path).findings if f.verdict == "fail"]
    assert failing
    # every failure line says how to reproduce it
    assert all(f.reproduce and "manualbp verify" in f.reproduce for f in failing)
    assert "reproduce: manualbp verify" in out


def test_first_failing_case_is_shrunk_to_a_smaller_network(tmp_path, capsys):
    code, path = verify(
        tmp_path,
        "--impl",
        "manualbp.mutants:weight_gradient_averaged",
        "--cases",
        "2",
        "--checks",
        "autograd",
        "--depth",
        "3-3",
        "--width",
        "3-4",
        "--batch",
        "3-4",
    )
    assert code == 1
    report = read_report(path)
    (shrunk,) = report.extras["minimal_failures"]
    first = next(f for f in report.findings if f.verdict == "fail")
    original = random_case(first.seed, ArchSpace(depth=(3, 3), width=(3, 4), batch=(3, 4)))
    arch = Architecture.from_dict(shrunk["arch"])
    assert arch.depth <= original.arch.depth and max(arch.sizes) <= max(original.arch.sizes)
    assert shrunk["batch_size"] <= original.batch_size
    assert (arch.depth, shrunk["batch_size"]) < (original.arch.depth, original.batch_size) or (
        sum(arch.sizes) < sum(original.arch.sizes)
    )
    # the printed rebuild call gives a case on which the check still fails
    from manualbp.case import case_from_seed
    from manualbp.checks.autograd import has_failure
    from manualbp.mutants import get_mutant

    rebuilt = eval(
        shrunk["rebuild"], {"case_from_seed": case_from_seed, "Architecture": Architecture}
    )
    assert has_failure(get_mutant("weight-gradient-averaged"), rebuilt)
    assert "smallest failing case" in capsys.readouterr().out


def test_reproduce_command_reruns_the_failing_case(tmp_path, capsys):
    code, path = verify(
        tmp_path, "--impl", "manualbp.mutants:weight_gradient_averaged", "--cases", "2", *SMALL
    )
    assert code == 1
    failing = next(f for f in read_report(path).findings if f.verdict == "fail" and f.seed)
    words = failing.reproduce.split()
    assert words[:2] == ["manualbp", "verify"]
    capsys.readouterr()
    again, again_path = verify(tmp_path / "again", *words[2:])
    assert again == 1
    rerun = read_report(again_path).findings
    assert {f.seed for f in rerun if f.seed is not None} == {failing.seed}
    assert any(f.quantity == failing.quantity and f.verdict == "fail" for f in rerun)


USER_IMPL = """
import numpy as np
from manualbp import engine

def loss(arch, params, x, y):
    {guard}
    return engine.loss(arch, params, x, y)

def gradients(arch, params, x, y):
    {guard}
    value, grads = engine.gradients(arch, params, x, y)
    {tamper}
    return value, grads
"""


def write_impl(tmp_path: Path, guard: str = "pass", tamper: str = "pass") -> str:
    path = tmp_path / "user_impl.py"
    path.write_text(textwrap.dedent(USER_IMPL.format(guard=guard, tamper=tamper)))
    return str(path)


def test_users_own_file_passes(tmp_path, capsys):
    code, _ = verify(tmp_path, "--impl", write_impl(tmp_path), "--cases", "3", *SMALL)
    assert code == 0, capsys.readouterr().out


def test_cases_are_drawn_where_the_implementation_supports_them(tmp_path, capsys):
    guard = 'if arch.loss != "half_sse": raise NotImplementedError("only half_sse")'
    code, path = verify(tmp_path, "--impl", write_impl(tmp_path, guard=guard), "--cases", "6")
    report = read_report(path)
    random = [f for f in report.findings if f.check in ("fd", "autograd")]
    assert not [f for f in random if f.verdict == "skipped"]
    # the space is narrowed to what it takes before drawing: rebuilt from there, every case
    # is half_sse, six per check
    narrowed = ArchSpace(losses=("half_sse",))
    for check in ("fd", "autograd"):
        cases = {(f.case, f.seed) for f in random if f.check == check}
        assert len(cases) == 6
        assert {random_case(seed, narrowed).arch.loss for _, seed in cases} == {"half_sse"}
    # a worked example needing a method the implementation lacks is skipped, saying which
    assert any(
        f.verdict == "skipped" and "needs step()" in f.reason
        for f in report.findings
        if f.check == "published"
    )
    assert code == 0 if any(f.verdict == "pass" for f in report.findings) else 1


def test_everything_skipped_is_not_a_pass(tmp_path, capsys):
    guard = 'raise NotImplementedError("nothing yet")'
    code, _ = verify(
        tmp_path,
        "--impl",
        write_impl(tmp_path, guard=guard),
        "--cases",
        "2",
        "--checks",
        "fd,autograd",
    )
    assert code == 1
    assert "NOT VERIFIED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        ("grads['W1'] = grads['W1'] * np.nan", "NaN"),
        (
            "grads['W1'] = grads['W1'].T.copy() if grads['W1'].shape[0] != grads['W1'].shape[1] "
            "else grads['W1'][:, :0]",
            "shape",
        ),
        ("grads.pop('W1')", "W1"),
        ("grads['extra'] = np.zeros(1)", "extra"),
        ("raise RuntimeError('boom')", "RuntimeError"),
    ],
)
def test_misbehaving_implementation_fails_with_what_it_did(tmp_path, capsys, tamper, words):
    code, path = verify(
        tmp_path,
        "--impl",
        write_impl(tmp_path, tamper=tamper),
        "--cases",
        "2",
        *SMALL,
        "--checks",
        "fd,autograd",
    )
    assert code == 1
    failing = [f for f in read_report(path).findings if f.verdict == "fail"]
    assert any(words in f.reason for f in failing), [f.reason for f in failing][:5]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--impl", "no_such_module_xyz"], "no_such_module_xyz"),
        (["--impl", "json"], "loss"),
        (["--checks", "fd,bogus"], "--checks"),
        (["--cases", "-1"], "--cases"),
        (["--shard", "3/2"], "--shard"),
        (["-j", "0"], "-j"),
        (["-j", "-1"], "got -1, expected a positive integer"),
        (["--frobnicate"], "manualbp verify: error: unrecognized arguments: --frobnicate"),
        (["--depth", "0-2"], "--depth"),
        (["--reference", "missing.json"], "missing.json"),
        (["--arch", "missing-arch.json"], "--arch"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, expected):
    code, path = verify(tmp_path, "--cases", "1", *args)
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not path.exists()


def test_malformed_reference_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": 1, "id": "x"}))
    code, _ = verify(tmp_path, "--reference", str(bad), "--checks", "published")
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "bad.json" in err


def test_bad_input_keeps_an_existing_report(tmp_path, capsys):
    code, path = verify(tmp_path, "--cases", "1", "--checks", "fd", *SMALL)
    assert code == 0
    before = path.read_bytes()
    code, _ = verify(tmp_path, "--impl", "no_such_module_xyz")
    assert code == 2
    assert path.read_bytes() == before


def test_processes_give_the_same_findings_as_one(tmp_path, capsys):
    args = ["--cases", "4", "--checks", "fd,autograd,published", *SMALL]
    one_code, one = verify(tmp_path / "one", *args)
    two_code, two = verify(tmp_path / "two", "-j", "2", *args)
    assert one_code == two_code == 0
    assert [f.to_dict() for f in read_report(one).findings] == [
        f.to_dict() for f in read_report(two).findings
    ]
