"""Corpus bugs: is every bug of the foreign-implementation corpus caught, and named?

Every bug of ``tests/corpus`` (a one-line bug in code written in someone else's style, see
``tests/corpus/__init__.py``) goes through ``manualbp verify --impl`` as a user would run
it — supervised workers, cases drawn where the implementation supports them — on ``--cases``
random cases. For each bug it records the exit code and, per failing case, the diagnosis
kind of the case; a bug passes when the run exits 1 and at least ``--share`` (0.9) of its
failing cases carry the kind the bug declares.

Run from a checkout::

    python -m campaigns.corpus_bugs --cases 20 -j 2
    python -m campaigns.corpus_bugs --only micrograd --cases 5
    python -m campaigns.corpus_bugs --bug BUG_RELU_MASK_INVERTED

Prints one line per bug; writes the JSON summary (default reports/corpus_bugs.json); exit 0
when every bug is caught with its diagnosis, 1 otherwise, 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as ``python campaigns/corpus_bugs.py`` from a checkout
    sys.path.insert(0, str(ROOT))

DEFAULT_JSON = Path("reports") / "corpus_bugs.json"


def run_bug(spec: str, space_args: tuple[str, ...], cases: int, jobs: int) -> dict[str, Any]:
    """``manualbp verify`` on one bug: exit code, failing cases, their diagnosis kinds."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "manualbp", "verify", "--impl", spec, *space_args,
                   "--checks", "fd,autograd", "--cases", str(cases), "--no-shrink", "-j",
                   str(jobs), "--json", str(report), "--no-html", "--quiet"]  # fmt: skip
        started = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).returncode
        findings = json.loads(report.read_text())["findings"] if report.exists() else []
    kinds: dict[str, str] = {}
    for finding in findings:
        if finding["verdict"] == "fail":
            kinds.setdefault(finding["case"], finding["detail"].get("diagnosis_kind", "none"))
    return {
        "exit": code,
        "failing_cases": len(kinds),
        "kinds": dict(Counter(kinds.values())),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run every bug (or those of ``--only`` implementations); 0 all caught and named."""
    from tests.corpus import CORPUS

    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m campaigns.corpus_bugs")
    parser.add_argument("--cases", type=int, default=20, help="random cases per bug (20)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (1)")
    parser.add_argument("--share", type=float, default=0.9, help="named share needed (0.9)")
    parser.add_argument("--only", action="append", help="corpus implementation names")
    parser.add_argument("--bug", action="append", help="bug names (e.g. BUG_RELU_MASK_INVERTED)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"({DEFAULT_JSON})")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.jobs < 1 or not 0 < args.share <= 1:
        sys.stderr.write("corpus_bugs: error: --cases, -j positive, --share in (0, 1]\n")
        return 2
    rows = []
    for entry in CORPUS:
        if args.only and entry.name not in args.only:
            continue
        for bug in entry.bugs:
            if args.bug and bug.spec.rpartition(":")[2] not in args.bug:
                continue
            result = run_bug(bug.spec, bug.space_args, args.cases, args.jobs)
            named = sum(result["kinds"].get(kind, 0) for kind in bug.kinds)
            share = named / max(1, result["failing_cases"])
            caught = result["exit"] == 1 and share >= args.share
            rows.append({"spec": bug.spec, "expected": list(bug.kinds), "share": share,
                         "caught": caught, **result})  # fmt: skip
            out.write(
                f"{'ok  ' if caught else 'MISS'} {bug.spec:58} exit={result['exit']} "
                f"expected {'|'.join(bug.kinds)}: {share:.0%} of {result['failing_cases']} failing "
                f"cases {result['kinds']} ({result['seconds']} s)\n"
            )
            out.flush()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"cases": args.cases, "bugs": rows}, indent=1))
    missed = [row["spec"] for row in rows if not row["caught"]]
    out.write(f"{len(rows) - len(missed)} of {len(rows)} bugs caught with their diagnosis\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
