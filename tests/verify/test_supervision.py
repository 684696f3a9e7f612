"""The implementation under test cannot end, crash or hang the gate (real processes, signals).

A user's file misbehaves on the cases whose first input is positive (some of the run's
cases, not all): whatever it does, the run exits 1 with a ``fail`` Finding saying what
happened, in which protocol call and case, the other cases are still verified, and the
report is complete — with one worker process and with two.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from manualbp.cli import main
from manualbp.pytest_plugin import FindingCollector, assert_gradients_match

USER_IMPL = """
import ctypes, os, signal, sys, time
import numpy as np
from manualbp import engine

{at_import}

def misbehave(x):
    if x[0, 0] > 0:
        {action}

def loss(arch, params, x, y):
    {in_loss}
    return engine.loss(arch, params, x, y)

def gradients(arch, params, x, y):
    misbehave(x)
    return engine.gradients(arch, params, x, y)
"""

ARCH = '{"sizes": [2, 3, 2], "activations": ["tanh", "sigmoid"]}'
#: Of the six cases of seed 0 on ARCH, some have x[0, 0] > 0 and some not.
RUN = ["--arch", ARCH, "--cases", "6", "--checks", "fd", "--no-shrink"]

#: What the file does, and what the failing Finding must say.
BEHAVIOURS = {
    "sys.exit(0)": ("sys.exit(0)", "gradients() called sys.exit(0)"),
    "os._exit(3)": (
        "os._exit(3)",
        "implementation exited with status 3 in gradients() during case-",
    ),
    "segfault": (
        "ctypes.string_at(0)",
        "was killed by signal 11 (SIGSEGV, a segmentation fault) in gradients()",
    ),
    "SIGKILL": (
        "os.kill(os.getpid(), signal.SIGKILL)",
        "was killed by SIGKILL — likely out of memory",
    ),
}


def write_impl(
    tmp_path: Path, action: str = "pass", in_loss: str = "pass", at_import: str = ""
) -> str:
    path = tmp_path / "user_impl.py"
    path.write_text(
        textwrap.dedent(USER_IMPL).format(action=action, in_loss=in_loss, at_import=at_import),
        encoding="utf-8",
    )
    return str(path)


def run(tmp_path: Path, *args: str) -> tuple[int, list[dict]]:
    path = tmp_path / "report.json"
    code = main(["verify", *args, "--json", str(path), "--quiet"])
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    assert report is not None and (tmp_path / "index.html").exists()  # complete: both files
    return code, report["findings"]


def verified_cases(findings: list[dict]) -> set[str]:
    return {f["case"] for f in findings if f["verdict"] == "pass"} - {
        f["case"] for f in findings if f["verdict"] == "fail"
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_an_implementation_that_ends_its_process_fails_only_its_case(tmp_path, behaviour, jobs):
    action, message = BEHAVIOURS[behaviour]
    code, findings = run(tmp_path, "--impl", write_impl(tmp_path, action), *RUN, "-j", jobs)
    assert code == 1
    failing = [f for f in findings if f["verdict"] == "fail"]
    assert failing and all(message in f["reason"] for f in failing)
    assert verified_cases(findings)  # the other cases were still checked, by a fresh worker


def test_an_exit_at_import_is_a_failing_finding(tmp_path):
    code, findings = run(
        tmp_path, "--impl", write_impl(tmp_path, at_import="sys.exit(0)"), *RUN, "--impl",
        "manualbp.engine",
    )  # fmt: skip
    assert code == 1
    [load] = [f for f in findings if f["verdict"] == "fail"]
    assert "called sys.exit(0) while being loaded" in load["reason"]
    assert verified_cases([f for f in findings if f["impl"] == "manualbp.engine"])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_hang_is_cut_at_the_timeout(tmp_path, jobs):
    impl = write_impl(tmp_path, in_loss="time.sleep(60) if x[0, 0] > 0 else None")
    code, findings = run(tmp_path, "--impl", impl, *RUN, "--timeout", "2", "-j", jobs)
    assert code == 1
    failing = [f for f in findings if f["verdict"] == "fail"]
    assert failing and all("timed out after 2 s in loss()" in f["reason"] for f in failing)
    assert verified_cases(findings)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_allocation_beyond_the_memory_limit_fails_its_case(tmp_path, jobs):
    impl = write_impl(tmp_path, action="np.ones(2**31)")  # 16 GiB
    code, findings = run(tmp_path, "--impl", impl, *RUN, "--memory-limit", "2G", "-j", jobs)
    assert code == 1
    failing = [f for f in findings if f["verdict"] == "fail"]
    assert failing and all("exceeded the memory limit" in f["reason"] for f in failing)
    assert verified_cases(findings)


def test_the_plugin_is_supervised_too(tmp_path):
    impl = write_impl(tmp_path, "os._exit(3)")
    with pytest.raises(AssertionError, match="exited with status 3 in gradients"):
        assert_gradients_match(impl, 4, checks=("fd",), collector=FindingCollector())


def test_the_implementations_traceback_is_kept_and_shown(tmp_path, capsys):
    impl = write_impl(tmp_path, "raise KeyError('W7')")
    path = tmp_path / "r.json"
    assert main(["verify", "--impl", impl, *RUN, "--json", str(path)]) == 1
    failing = [f for f in json.loads(path.read_text())["findings"] if f["verdict"] == "fail"]
    frame = failing[0]["detail"]["traceback"][-1]
    assert (frame["function"], frame["code"]) == ("misbehave", "raise KeyError('W7')")
    assert "raised at " in capsys.readouterr().out
    assert "misbehave" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_implementation_text_cannot_drive_the_terminal(tmp_path, capsys):
    impl = write_impl(tmp_path, r"raise ValueError('\x1b[2J\x1b[32mPASS\nall good')")
    assert main(["verify", "--impl", impl, *RUN, "--json", str(tmp_path / "r.json")]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J" in out
    assert not any(line.startswith("all good") for line in out.splitlines())


def test_ctrl_c_stops_the_workers_and_keeps_the_previous_report(tmp_path):
    report = tmp_path / "report.json"
    report.write_text('{"previous": true}', encoding="utf-8")
    impl = write_impl(tmp_path, in_loss="time.sleep(60)")
    command = [sys.executable, "-m", "manualbp", "verify", "--impl", impl, *RUN]
    process = subprocess.Popen([*command, "--json", str(report)], stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "interrupted" in err
    assert report.read_text(encoding="utf-8") == '{"previous": true}'
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--seed", "-1"], "--seed"),
        (["--width", "1-100000"], "would need about"),
        (["--json", "{file}/r.json"], "is a file"),
        (["--html", "{file}/r.html"], "is a file"),
        (["--timeout", "0"], "--timeout"),
        (["--memory-limit", "lots"], "--memory-limit"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, capsys, monkeypatch, options, says):
    import manualbp.verify

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run started although an option was bad")

    monkeypatch.setattr(manualbp.verify, "run_verify", no_work)
    existing = tmp_path / "report.json"
    existing.write_text('{"previous": true}', encoding="utf-8")
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x", encoding="utf-8")
    args = [option.format(file=a_file) for option in options]
    code = main(["verify", "--impl", "manualbp.engine", "--json", str(existing), *args])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
    assert existing.read_text(encoding="utf-8") == '{"previous": true}'


def test_jobs_are_capped_and_the_run_says_so(tmp_path, capsys):
    code = main(["verify", "--impl", "manualbp.engine", *RUN, "-j", "1000",
                 "--json", str(tmp_path / "r.json"), "--quiet"])  # fmt: skip
    assert code == 0
    assert f"-j 1000 capped at {min(6, len(os.sched_getaffinity(0)))}" in capsys.readouterr().err
