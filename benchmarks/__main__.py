"""``python -m benchmarks [--quick] [--single-thread] [--json PATH] [--markdown PATH]`` (or
``./run bench``): measure, print the tables, write the JSON (default
reports/benchmark.json) and the same tables as Markdown (default reports/benchmark.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.processes import ROOT
from benchmarks.runner import Settings, run
from benchmarks.tables import format_markdown, format_result

DEFAULT_JSON = ROOT / "reports" / "benchmark.json"
DEFAULT_MARKDOWN = ROOT / "reports" / "benchmark.md"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 whatever the figures (targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(
        prog="benchmarks",
        description="Engine vs torch step times, GEMM peak, check costs and manualbp verify's "
        "wall time and memory, in one run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small architectures at batch 64, 3 rounds, one verify run",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help="JSON output (default: reports/benchmark.json in the repository)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=DEFAULT_MARKDOWN,
        help="Markdown tables (default: reports/benchmark.md in the repository)",
    )
    parser.add_argument(
        "--single-thread",
        action="store_true",
        help="engine and torch workers with one BLAS/OpenMP thread each (default: each "
        "library's own thread count)",
    )
    options = parser.parse_args(argv)
    settings = Settings.quick_run() if options.quick else Settings.full()
    settings = replace(settings, single_thread=options.single_thread)
    result = run(settings)
    print(format_result(result))
    for path, text in (
        (options.json, json.dumps(result, indent=2)),
        (options.markdown, format_markdown(result)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"\nJSON: {options.json}\nMarkdown: {options.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
