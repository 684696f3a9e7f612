"""The layer check compares against torch and exact arithmetic, never manualbp's own layers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import manualbp.checks.layer

FORBIDDEN = ("manualbp.engine", "manualbp.layers")


def test_no_module_of_the_layer_check_imports_the_engine_or_the_layer_library():
    folder = Path(manualbp.checks.layer.__file__).parent
    imported = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert not [name for name in imported if name.startswith(FORBIDDEN)]


def test_checking_a_correct_user_layer_loads_neither_the_engine_nor_the_library():
    saito = Path(__file__).parent / "user_layers" / "saito_layers.py"
    code = (
        "import sys\n"
        "from manualbp.checks.layer import load_layers, run\n"
        f"(subject,) = load_layers({str(saito) + ':Affine'!r}, 'affine')\n"
        "findings = list(run(subject, cases=1, checks=('fd',)))\n"
        "print('torch' in sys.modules)\n"
        "findings += run(subject, cases=1, checks=('fd', 'autograd'))\n"
        "assert findings and all(f.verdict == 'pass' for f in findings)\n"
        "names = ('manualbp.engine', 'manualbp.layers', 'torch')\n"
        "print(*(name in sys.modules for name in names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # torch is imported only for the autograd check
    assert result.stdout.split() == ["False", "False", "False", "True"]
