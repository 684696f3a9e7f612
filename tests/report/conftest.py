"""Synthetic reports shaped like the ones ``manualbp verify`` and ``selftest`` write.

A run has random cases (fd and autograd findings carrying ``detail["case_index"]``), the
published worked example, and optionally broken cases: a hidden-layer bug that doubles the
error term of unit 0 in layer 1, so δ1, W1 and b1 fail on some entries (per-entry relative
errors, a diagnosis and a reproduction command) while layer 2 agrees.

:func:`verify_runs` makes real ones: small ``manualbp verify`` runs, sharded and not, and
of a failing mutant.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from manualbp.cli import main
from manualbp.findings import Finding, tensor_finding
from manualbp.report.html import render_html
from manualbp.report.model import Report

SIZES = (3, 4, 2)
IMPL = "manualbp.engine"


def _params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = {}
    for layer in range(1, len(SIZES)):
        shapes[f"W{layer}"] = (SIZES[layer], SIZES[layer - 1])
        shapes[f"b{layer}"] = (SIZES[layer],)
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def _case_findings(index: int, broken: bool) -> list[Finding]:
    """fd and autograd findings of random case ``index`` (see the module docstring)."""
    rng = np.random.default_rng(index)
    seed = 1000 + index
    case = f"case-{index}"
    grads = _params(rng)
    deltas = {layer: rng.normal(size=(5, SIZES[layer])) for layer in range(1, len(SIZES))}
    wrong = {name: value.copy() for name, value in grads.items()}
    wrong_deltas = {layer: d.copy() for layer, d in deltas.items()}
    if broken:
        wrong["W1"][0] *= 2
        wrong["b1"][0] *= 2
        wrong_deltas[1][:, 0] *= 2

    def noisy(value: np.ndarray) -> np.ndarray:
        return value * (1 + 1e-13 * rng.normal(size=value.shape))

    common = {"case": case, "seed": seed, "impl_name": IMPL, "detail": {"case_index": index}}

    def reproduce(check: str) -> str:
        return f"manualbp verify --impl {IMPL} --checks {check} --case-seed {seed}"

    findings = []
    for name, ref in grads.items():
        findings.append(
            tensor_finding(
                check="fd",
                quantity=f"grad.{name}",
                impl=noisy(wrong[name]),
                ref=ref,
                rtol=1e-6,
                atol=1e-9,
                tolerance_reason="central differences, h²",
                method="central",
                reproduce=reproduce("fd"),
                **common,
            )
        )
    findings.append(
        Finding(
            "fd",
            case,
            "taylor.loss",
            "pass",
            2.0,
            2.0,
            0.0,
            0.0,
            0.1,
            0.0,
            "remainder order 2 ± 0.1",
            method="taylor",
            seed=seed,
            impl=IMPL,
            detail={"case_index": index},
        )
    )
    if index == 0:
        h = np.geomspace(1e-12, 1e-1, 23)
        findings[0].detail["step_curve"] = {
            "h": h.tolist(),
            "error": (1e-16 / h + h**2).tolist(),
            "chosen_h": 4.6e-6,
        }
    compared = [(f"grad.{name}", ref, wrong[name]) for name, ref in grads.items()]
    compared += [(f"delta.{layer}", ref, wrong_deltas[layer]) for layer, ref in deltas.items()]
    for quantity, ref, impl in compared:
        findings.append(
            tensor_finding(
                check="autograd",
                quantity=quantity,
                impl=noisy(impl),
                ref=ref,
                rtol=1e-10,
                atol=1e-12,
                tolerance_reason="float64 roundoff",
                reproduce=reproduce("autograd"),
                **common,
            )
        )
    findings.append(
        tensor_finding(
            check="autograd",
            quantity="step3.W1",
            impl=grads["W1"],
            ref=grads["W1"],
            rtol=1e-10,
            atol=1e-12,
            tolerance_reason="float64 roundoff",
            **common,
        )
    )
    if broken:
        for finding in findings:
            if finding.verdict == "fail":
                finding.diagnosis = "hidden error recurrence at layer 1: only unit 0 wrong"
    return findings


def _published() -> list[Finding]:
    """Worked-example findings shaped like those of manualbp.checks.published."""
    base = {"check": "published", "case": "mazur-2015", "impl": IMPL, "method": "printed"}
    detail = {
        "citation": "M. Mazur, A Step by Step Backpropagation Example, 2015",
        "source": "reference/mazur_2015.json",
        "rule": "printed",
    }
    half_unit = "within half a unit of the last printed decimal"
    return [
        Finding(
            quantity="forward.out_o1",
            verdict="pass",
            impl_value=0.7513650695523157,
            ref_value=0.75136507,
            abs_error=4.5e-10,
            rel_error=6e-10,
            tolerance=0.0,
            atol=5e-9,
            tolerance_reason=half_unit,
            detail={**detail, "label": "out_o1", "printed": "0.75136507"},
            **base,
        ),
        Finding(
            quantity="update.W2[0,0]",
            verdict="erratum",
            impl_value=0.35891647971788465,
            ref_value=0.35891648,
            abs_error=2.8e-10,
            rel_error=7.9e-10,
            tolerance=0.0,
            atol=5e-9,
            tolerance_reason=half_unit,
            reason="known erratum: rounded intermediate",
            detail={
                **detail,
                "label": "w5 after the update",
                "printed": "0.35891648",
                "correct": 0.3589164797,
                "explanation": "the source rounds out_h1 before the update",
                "evidence": {"fd": "agrees to 1e-11", "autograd": "agrees to 1e-15"},
                "reproduced_by": "rounding out_h1 to 9 decimals",
            },
            **base,
        ),
        Finding(
            quantity="train.E_total@10000",
            verdict="erratum",
            impl_value=3.5102e-05,
            ref_value=3.51085e-05,
            abs_error=6.5e-09,
            rel_error=1.9e-4,
            tolerance=0.0,
            atol=5e-11,
            tolerance_reason=half_unit,
            reason="known erratum",
            detail={
                **detail,
                "label": "E_total after 10,000 updates",
                "printed": "0.0000351085",
                "explanation": "printed by an earlier version of the author's code",
                "evidence": {"autograd": "same trajectory to 1e-12"},
                "note": "the companion code prints 0.000035085",
            },
            **base,
        ),
    ]


def make_run(cases: int = 6, broken: tuple[int, ...] = (), kill: bool = False) -> Report:
    """An unsharded run of ``cases`` random cases (``broken``: the failing ones)."""
    findings = []
    for index in range(cases):
        findings += [f for f in _case_findings(index, index in broken) if f.check == "fd"]
    for index in range(cases):
        findings += [f for f in _case_findings(index, index in broken) if f.check == "autograd"]
    findings += _published()
    findings.append(
        Finding(
            "fd",
            f"case-{cases}",
            "grad.W1",
            "inconclusive",
            reason="perturbation crosses a ReLU kink at z=0",
            method="central",
            impl=IMPL,
            detail={"case_index": cases},
        )
    )
    findings.append(
        Finding(
            "autograd",
            f"case-{cases}",
            "loss",
            "skipped",
            reason="NotImplementedError: softmax_ce",
            impl=IMPL,
            detail={"case_index": cases},
        )
    )
    metadata = {
        "manualbp": "0.1.0",
        "python": "3.11.2",
        "numpy": "2.1.0",
        "blas": "openblas",
        "command": "manualbp verify",
        "impls": [IMPL],
        "checks": ["fd", "autograd", "published"],
        "seed": 0,
        "cases": cases + 1,
        "case_seeds": [],
        "space": [],
        "dtype": "float64",
        "shard": None,
        "timings": {f"{IMPL}:fd": 1.5, f"{IMPL}:autograd": 2.25, "total": 4.0},
    }
    extras = {}
    if kill:
        extras["kill_matrix"] = {
            "mutants": ["factor_2_output_error", "missing_transpose", "sigma_at_output"],
            "checks": ["fd", "autograd", "published"],
            "killed": {
                "factor_2_output_error": {"fd": 5, "autograd": 5, "published": 1},
                "missing_transpose": {"fd": 2, "autograd": 2, "published": 0},
                "sigma_at_output": {"fd": 0, "autograd": 0, "published": 0},
            },
            "cases": {"factor_2_output_error": 5, "missing_transpose": 5, "sigma_at_output": 5},
        }
    return Report(findings, metadata, extras)


def shard(report: Report, count: int) -> list[Report]:
    """Split a run as ``manualbp verify --shard i/count`` would: random case i goes to shard
    i % count + 1, worked examples to shard 1; timings split in equal parts."""
    shards = []
    for position in range(count):
        findings = [f for f in report.findings if f.detail.get("case_index", 0) % count == position]
        metadata = dict(report.metadata)
        metadata["shard"] = f"{position + 1}/{count}"
        metadata["timings"] = {k: v / count for k, v in report.metadata["timings"].items()}
        shards.append(Report(findings, metadata, dict(report.extras)))
    return shards


@pytest.fixture
def run() -> Callable[..., Report]:
    """Factory of synthetic runs (see :func:`make_run`)."""
    return make_run


@pytest.fixture
def split() -> Callable[[Report, int], list[Report]]:
    """Splitter of a run into shards (see :func:`shard`)."""
    return shard


@pytest.fixture
def failing_report() -> Report:
    """A run with a factor-2 bug on two cases, errata, skips and a kill matrix."""
    return make_run(cases=6, broken=(1, 4), kill=True)


@pytest.fixture
def passing_report() -> Report:
    """A run where everything agrees (errata aside)."""
    return make_run(cases=6)


VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "base", "col"}


class Node:
    """An element of a parsed page: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def iter(self) -> list[Node]:
        """This node and every element below it, in document order."""
        nodes = [self]
        for child in self.children:
            if isinstance(child, Node):
                nodes += child.iter()
        return nodes

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        """Elements below (and including) this one with ``tag`` and/or class ``cls``."""
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in (n.attrs.get("class") or "").split())
        ]

    def by_id(self, anchor: str) -> Node | None:
        """The element with id ``anchor``, or None."""
        return next((n for n in self.iter() if n.attrs.get("id") == anchor), None)

    def text(self) -> str:
        """The text content (entities decoded), whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def ancestors(self) -> list[str]:
        """Tags of the enclosing elements, innermost first."""
        tags, node = [], self.parent
        while node is not None:
            tags.append(node.tag)
            node = node.parent
        return tags


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.unclosed: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.current.tag != tag:
            self.unclosed.append(f"</{tag}> closes <{self.current.tag}>")
            return
        self.current = self.current.parent or self.root

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    """Parse a page into a tree; every element must be closed by its own end tag."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.unclosed == [], builder.unclosed[:5]
    assert builder.current is builder.root, f"<{builder.current.tag}> never closed"
    return builder.root


@pytest.fixture
def parse_html() -> Callable[[str], Node]:
    """The strict page parser (see :func:`parse`)."""
    return parse


@pytest.fixture(scope="session")
def failing_html() -> str:
    """The page of :func:`failing_report`, rendered once per session."""
    return render_html(make_run(cases=6, broken=(1, 4), kill=True))


@pytest.fixture(scope="session")
def passing_html() -> str:
    """The page of :func:`passing_report`, rendered once per session."""
    return render_html(make_run(cases=6))


PAYLOADS = (
    "<script>window.pwned=1</script>",
    '"onload="window.pwned=2',
    "'onmouseover='window.pwned=3",
    "</style><script>window.pwned=4</script>",
    "]]><script>window.pwned=5</script>",
    "</title><script>window.pwned=6</script>",
    '<img src=x onerror="window.pwned=7">',
    '<svg onload="window.pwned=8">',
    "<!-- </textarea></pre></code></table>",
    "javascript:window.pwned=9",
    "{{ 7*7 }}{% raw %}",
    "&amp;&lt;",
    "$\\frac{1}{0}$",
    "\u2028\u2029",
)
HOSTILE = " ".join(PAYLOADS)
"""One string carrying every payload, put into every string field of a report."""


def make_hostile() -> Report:
    """A failing report whose every string (Finding fields, detail strings, metadata keys
    and values, extras, the kill matrix) is :data:`HOSTILE`."""
    p = HOSTILE
    strings = {"case": p, "tolerance_reason": p, "reason": p, "method": p, "impl": p}
    tensor = {"rel_errors": [1.0, 1e-14], "shape": [1, 2], "case_index": 0, p: p}
    curve = {"h": [1e-2, 1e-5, 1e-8], "error": [1e-4, 1e-10, 1e-8], "chosen_h": 1e-5}
    findings = [
        Finding(
            p,
            quantity=p,
            verdict="fail",
            impl_value=2.0,
            ref_value=1.0,
            abs_error=1.0,
            rel_error=1.0,
            tolerance=1e-10,
            atol=0.0,
            seed=7,
            diagnosis=p,
            reproduce=p,
            detail={"case_index": 0},
            **strings,
        ),
        Finding(
            "autograd",
            quantity="grad.W1[0,0]",
            verdict="fail",
            impl_value=2.0,
            ref_value=1.0,
            abs_error=1.0,
            rel_error=1.0,
            tolerance=1e-10,
            atol=0.0,
            diagnosis=p,
            reproduce=p,
            detail=tensor,
            **strings,
        ),
        Finding(
            "autograd",
            quantity="delta.1[0,0]",
            verdict="pass",
            impl_value=1.0,
            ref_value=1.0,
            abs_error=0.0,
            rel_error=0.0,
            tolerance=1e-10,
            atol=0.0,
            detail={"case_index": 0},
            **strings,
        ),
        Finding("fd", quantity=p, verdict="inconclusive", detail={"step_curve": curve}, **strings),
        Finding("autograd", quantity=p, verdict="skipped", **strings),
        Finding(
            "published",
            quantity=p,
            verdict="erratum",
            impl_value=1.0,
            ref_value=1.1,
            abs_error=0.1,
            rel_error=0.09,
            tolerance=0.0,
            atol=5e-3,
            detail={"printed": p, "citation": p, "label": p, "explanation": p, "evidence": {p: p}},
            **strings,
        ),
        Finding(
            "published",
            quantity=p,
            verdict="erratum",
            impl_value=1.0,
            ref_value=1.1,
            detail={"printed": p, "evidence": p, "correct": p, "reproduced_by": p, "note": p},
            **strings,
        ),
    ]
    metadata = {
        p: p,
        "impls": [p, p],
        "nested": {p: [p, {p: p}]},
        "seed": p,
        "timings": {p: 1.0},
        "shard": None,
    }
    extras = {
        "kill_matrix": {"mutants": [p], "checks": [p], "killed": {p: {p: 1}}, "cases": {p: 2}},
        p: {p: p},
    }
    return Report(findings, metadata, extras)


@pytest.fixture(scope="session")
def hostile_html() -> str:
    """The page of :func:`make_hostile`, rendered once per session."""
    return render_html(make_hostile())


REPOSITORY = Path(__file__).resolve().parents[2]
SMALL_RUN = (
    "--depth",
    "1-3",
    "--width",
    "1-4",
    "--batch",
    "1-3",
    "--checks",
    "fd,autograd,published",
    "--reference",
    str(REPOSITORY / "reference" / "saito_affine.json"),
)
"""A real but small ``manualbp verify`` run: random cases of small networks, all three
checks, the cheapest worked examples: the affine layer (which the engine computes with its
affine layer, a mutant not at all) and :data:`ONE_UNIT` (computed by every subject)."""
ONE_UNIT = {
    "schema": 1,
    "id": "one_unit",
    "citation": {"authors": ["A. Student"], "title": "Homework", "year": 2024, "url": "u"},
    "kind": "mlp",
    "mlp": {
        "network": {"sizes": [1, 1], "activations": ["sigmoid"], "loss": "half_sse"},
        "params": {"W1": [[0.5]], "b1": [0.0]},
        "inputs": [[2.0]],
        "targets": [[1.0]],
        "learning_rate": 1.0,
    },
    "quantities": [
        {"label": "y", "path": "a.1[0,0]", "printed": "0.7310586"},
        {"label": "E", "path": "loss", "printed": "0.0361647"},
        {"label": "∂E/∂w", "path": "grad.W1[0,0]", "printed": "-0.1057542"},
    ],
}
"""One sigmoid unit worked by hand: y = σ(0.5·2), E = ½(1 - y)², ∂E/∂w = (y - 1)y(1 - y)·2."""
FAILING_IMPL = "manualbp.mutants:hidden_error_missing_derivative"
"""A mutant whose bug shows in the hidden layers, so its page has failing cases to localise."""


@dataclass(frozen=True)
class VerifyRuns:
    """Reports and pages of real ``manualbp verify`` runs (made once per session):
    the small run unsharded, as shards 1/2 and 2/2, and of a failing mutant."""

    folder: Path
    outputs: dict[str, str]

    def json(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def html(self, name: str) -> Path:
        return self.folder / f"{name}.html"


@pytest.fixture(scope="session")
def verify_runs(tmp_path_factory) -> VerifyRuns:
    """Run ``manualbp verify`` in this process (torch loads once) for :class:`VerifyRuns`;
    each writes NAME.json and, by default, NAME.html next to it."""
    folder = tmp_path_factory.mktemp("verify-runs")
    example = folder / "one_unit.json"
    example.write_text(json.dumps(ONE_UNIT), encoding="utf-8")
    runs = {
        "unsharded": ("--impl", "manualbp.engine", "--cases", "4"),
        "shard-1": ("--impl", "manualbp.engine", "--cases", "4", "--shard", "1/2"),
        "shard-2": ("--impl", "manualbp.engine", "--cases", "4", "--shard", "2/2"),
        "failing": ("--impl", FAILING_IMPL, "--cases", "2"),
    }
    outputs = {}
    for name, options in runs.items():
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(
                [
                    "verify",
                    *options,
                    *SMALL_RUN,
                    "--reference",
                    str(example),
                    "--json",
                    str(folder / f"{name}.json"),
                ]
            )
        assert code == (1 if name == "failing" else 0), stdout.getvalue()
        outputs[name] = stdout.getvalue()
    return VerifyRuns(folder, outputs)
