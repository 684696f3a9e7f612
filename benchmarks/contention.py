"""Time the autograd check of ``manualbp verify`` with and without the thread fix.

``python -m benchmarks.contention THREADS [CASES]`` runs, in this process, exactly the
autograd check that the default ``manualbp verify`` runs (same implementations, same
random cases from seed 0) with ``AutogradOptions(torch_threads=THREADS)``: ``1`` is the fix
the check ships with (torch limited to one intra-op thread while NumPy/OpenBLAS calls
alternate with torch calls), ``none`` leaves torch's thread pool as it is. torch is
imported before the clock starts. Prints one JSON line: seconds, findings, fails.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from manualbp.checks import autograd
from manualbp.checks.base import case_units, unit_case
from manualbp.pipeline.work import Workbench
from manualbp.verify import DEFAULT_CASES, VerifyOptions


def time_autograd_check(torch_threads: int | None, cases: int = DEFAULT_CASES) -> dict[str, Any]:
    """Wall time of the autograd check over the default implementations and ``cases``
    random cases each, with torch limited to ``torch_threads`` (None: unlimited)."""
    import torch  # imported outside the timed region

    options = VerifyOptions(checks=("autograd",), cases=cases)
    threads = autograd.AutogradOptions(torch_threads=torch_threads)
    bench = Workbench()
    work = []
    for request in options.requests():
        subject = bench.describe(request)
        impl = bench.implementation(subject.key, subject.spec, None)
        units = case_units("autograd", subject, options.plan())
        work.append((subject, impl, [unit_case("autograd", u, impl, subject) for u in units]))
    verdicts: list[str] = []
    started = time.perf_counter()
    for subject, impl, planned in work:
        findings = autograd.run(impl, planned, impl_name=subject.name, options=threads)
        verdicts.extend(finding.verdict for finding in findings)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "findings": len(verdicts),
        "fails": verdicts.count("fail"),
        "torch_threads_outside": torch.get_num_threads(),
    }


def main(argv: list[str]) -> int:
    """Parse THREADS (a positive integer or ``none``) and optional CASES, print the JSON."""
    if len(argv) not in (1, 2) or not (argv[0] == "none" or argv[0].isdigit()):
        expected = "THREADS (a positive integer or none) and optionally CASES"
        print(f"contention: got {argv!r}, expected {expected}", file=sys.stderr)
        return 2
    threads = None if argv[0] == "none" else int(argv[0])
    cases = int(argv[1]) if len(argv) == 2 else DEFAULT_CASES
    print(json.dumps(time_autograd_check(threads, cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
