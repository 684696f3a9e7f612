"""Where the verdict goes: a closed pipe on stdout keeps the exit code, and a report path the
file system refuses is one line, exit 2, found before the run or after it without losing
the previous report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from manualbp.cli import main
from manualbp.report import outputs

SMALL = ["--depth", "1-2", "--width", "1-4", "--batch", "1-4", "--checks", "fd"]
BUG = "manualbp.mutants:hidden_error_W_not_transposed"


def piped_to_head(tmp_path: Path, *args: str) -> int:
    """Exit code of ``manualbp ARGS | head -0``: the reader has closed the pipe before the
    first line, so every write to stdout meets a broken pipe."""
    command = [sys.executable, "-m", "manualbp", *args]
    writer = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.close()
    _, err = writer.communicate(timeout=300)
    assert b"Traceback" not in err, err.decode()
    return writer.returncode


def test_a_failing_run_piped_into_head_still_exits_1(tmp_path):
    code = piped_to_head(tmp_path, "verify", "--impl", BUG, "--cases", "3", *SMALL)
    assert code == 1
    assert (tmp_path / "reports" / "report.json").exists()


def test_a_demo_piped_into_head_exits_0(tmp_path):
    assert piped_to_head(tmp_path, "demo", "mazur-scalar") == 0


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("option", ["--json", "--html", "--junit", "--markdown"])
def test_a_path_the_file_system_refuses_is_one_line_before_the_run(tmp_path, capsys, option):
    """/proc refuses new folders even to root, whose permission bits say yes."""
    refused = "/proc/manualbp-nope/out.file"
    paths = {"--json": str(tmp_path / "r.json"), option: refused}
    code = main(["verify", *[w for pair in paths.items() for w in pair], "--cases", "1", *SMALL])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        f"manualbp verify: error: {option}: cannot write {refused} (no such file or directory)"
    ]
    assert captured.out == ""  # refused before any case ran
    assert not Path("/proc/manualbp-nope").exists()


def test_a_missing_folder_is_created_and_the_probe_leaves_nothing(tmp_path, capsys):
    report = tmp_path / "new" / "deeper" / "r.json"
    assert main(["verify", "--json", str(report), "--cases", "1", *SMALL, "--quiet"]) == 0
    assert sorted(p.name for p in report.parent.iterdir()) == ["r.html", "r.json"]


def test_a_refusal_after_the_run_is_one_line_and_keeps_the_report(tmp_path, capsys, monkeypatch):
    report = tmp_path / "r.json"
    assert main(["verify", "--json", str(report), "--cases", "1", *SMALL, "--quiet"]) == 0
    before = report.read_bytes()

    def disk_full(files):
        raise OSError(28, "No space left on device", str(report))

    monkeypatch.setattr(outputs, "write_together", disk_full)
    capsys.readouterr()
    code = main(["verify", "--json", str(report), "--cases", "1", *SMALL, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"manualbp verify: error: cannot write {report} (no space left on device); "
        "the previous report files are unchanged"
    ]
    assert report.read_bytes() == before


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_demo_that_writes_refuses_an_unwritable_folder(capsys):
    assert main(["demo", "cos-fit", "--output-dir", "/proc/manualbp-nope"]) == 2
    assert "--output-dir: cannot write /proc/manualbp-nope" in capsys.readouterr().err
    assert main(["demo", "mazur-scalar", "--output-dir", "/proc/manualbp-nope"]) == 0


CHATTY = """
from manualbp import engine


def loss(arch, params, x, y):
    print("loss called")
    return engine.loss(arch, params, x, y)


def gradients(arch, params, x, y):
    print("gradients called")
    return engine.gradients(arch, params, x, y)
"""


def test_a_users_print_after_the_reader_left_is_not_a_failure(tmp_path):
    """Workers share the terminal: a print in the implementation meets the closed pipe too."""
    (tmp_path / "chatty.py").write_text(CHATTY)
    assert piped_to_head(tmp_path, "verify", "--impl", "chatty.py", "--cases", "2", *SMALL) == 0


def without_stderr(tmp_path: Path, *args: str) -> int:
    """Exit code of ``manualbp ARGS 2>&-`` (file descriptor 2 closed: sys.stderr is None)."""
    command = [sys.executable, "-m", "manualbp", *args]
    done = subprocess.run(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(2)
    )
    return done.returncode


def test_a_closed_stderr_changes_no_exit_code(tmp_path):
    assert without_stderr(tmp_path, "demo", "mazur-scalar") == 0
    assert without_stderr(tmp_path, "verify", "--cases", "1", *SMALL) == 0
    assert (tmp_path / "reports" / "report.json").exists()
    assert without_stderr(tmp_path, "verify", "--impl", BUG, "--cases", "1", *SMALL) == 1


def test_file_names_the_file_system_accepts_are_written_and_longer_ones_refused(tmp_path, capsys):
    longest = tmp_path / ("a" * 250 + ".json")  # 255 bytes: the temporary must not add to it
    assert main(["verify", "--json", str(longest), "--cases", "1", *SMALL, "--no-html"]) == 0
    assert longest.exists()
    capsys.readouterr()
    too_long = tmp_path / ("a" * 251 + ".json")
    code = main(["verify", "--json", str(too_long), "--cases", "1", *SMALL])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.strip().endswith("is too long (at most 255 bytes)")
