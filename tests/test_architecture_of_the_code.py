"""The shape of the code: imports flow one way, references never lean on the engine, modules
stay small, and an activation or loss is described in one table.

Every import inside ``manualbp`` (read from the source with :mod:`ast`, lazy imports inside
functions included) must go to a module of the same or a lower layer of :data:`LAYERS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import manualbp

PACKAGE = Path(manualbp.__file__).parent

#: Layers from the bottom: a module may import only modules of its own layer or below. A
#: module is placed by the longest prefix of its dotted name listed here.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "manualbp.errors",
        "manualbp.facts",
        "manualbp.factors",
        "manualbp.graphs",
        "manualbp.threads",
        "manualbp.streams",
    ),
    ("manualbp.architecture",),
    ("manualbp.params", "manualbp.quantity"),
    ("manualbp.case", "manualbp.protocol", "manualbp.findings", "manualbp.evidence"),
    ("manualbp.space", "manualbp.plan", "manualbp.torch_mirror"),
    ("manualbp.checks", "manualbp.engine", "manualbp.layers", "manualbp.mazur"),
    (
        "manualbp.patterns",
        "manualbp.diagnosis",
        "manualbp.localisation",
        "manualbp.strategies",
        "manualbp.mutants",
        "manualbp.demos",
        "manualbp.reference",
        "manualbp.adapters",
    ),
    ("manualbp.pipeline", "manualbp.report"),
    ("manualbp.verify", "manualbp.selftest", "manualbp.api"),
    ("manualbp.pytest_plugin", "manualbp.cli", "manualbp.__main__"),
)
#: The package itself re-exports the public names of the lower layers (and the facade).
TOP = "manualbp"

#: What a check, the diagnosis or the localisation compares against must never come from
#: manualbp's own implementations: they are subjects like any other.
SUBJECTS = ("manualbp.engine", "manualbp.layers", "manualbp.mazur", "manualbp.mutants")
JUDGES = (
    "manualbp.checks",
    "manualbp.diagnosis",
    "manualbp.patterns",
    "manualbp.localisation",
    "manualbp.torch_mirror",
)

#: Largest module, in lines (the mutant catalogue's data tables included).
MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, name: str) -> set[str]:
    """Every manualbp module ``path`` imports (absolute or relative, at any depth)."""
    return imports_in(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")


def imports_in(source: str, name: str, is_package: bool) -> set[str]:
    """Every manualbp module the module ``name`` with this ``source`` imports."""
    tree = ast.parse(source)
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    known = modules()
    return {target for target in found if target in known and target != name}


def layer_of(name: str) -> int:
    best, rank = "", -1
    for position, members in enumerate(LAYERS):
        for prefix in members:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, position
    if rank < 0:
        raise AssertionError(f"{name} is in no layer of LAYERS: place it")
    return rank


def test_every_module_has_a_layer() -> None:
    for name in modules():
        if name != TOP:
            layer_of(name)


def test_no_import_runs_back_up() -> None:
    upward = []
    for name, path in modules().items():
        if name == TOP:
            continue
        for target in imports_of(path, name):
            if target != TOP and layer_of(target) > layer_of(name):
                upward.append(
                    f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
                )
    assert upward == []


def test_references_never_come_from_the_subjects() -> None:
    leaning = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if name.startswith(JUDGES)
        for target in imports_of(path, name)
        if target.startswith(SUBJECTS)
    ]
    assert leaning == []


def test_the_import_graph_test_sees_lazy_and_relative_imports() -> None:
    """The checks above are only as good as :func:`imports_in`: it must see an import inside
    a function and a relative one (both are how a backwards import would hide)."""
    source = "def f():\n    from manualbp.verify import run_verify\nfrom .case import CaseContext\n"
    found = imports_in(source, "manualbp.checks.fd.elementwise", is_package=False)
    assert {"manualbp.verify", "manualbp.checks.fd.case"} <= found
    with_backward = {"manualbp.checks.fd.elementwise": found}
    assert [t for t in with_backward["manualbp.checks.fd.elementwise"] if layer_of(t) > 5]


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small(name: str) -> None:
    lines = modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by what its parts do"
