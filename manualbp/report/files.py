"""Writing report files safely: checked before a run, written atomically, together.

A gate's report is the record of a run; it must never be left half written, and a run
must not discover after an hour that it cannot write it. :func:`check_writable` is called
on every output path before any case runs; :func:`write_together` writes all of a run's
files to temporaries in their own folders and renames them only when every one is
complete, so an interrupted or failing run leaves the previous report intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from manualbp.errors import UsageError


def check_writable(path: str | os.PathLike[str], option: str) -> None:
    """Raise UsageError (one line, naming ``option``) unless ``path`` can be written: not a
    directory, and its folder exists or can be created, and is writable."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option}: {target} is a directory, expected a file path")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{option}: {target} is not writable")
    folder = target.parent
    while not folder.exists():
        if folder == folder.parent:
            break
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{option}: {folder} is a file, expected a folder for {target}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot write in {folder} (permission denied)")


def _temporary(target: Path, text: str) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; a report is meant to be shared
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def write_together(files: Sequence[tuple[str | os.PathLike[str], str]]) -> list[Path]:
    """Write every (path, text) via temporaries in the paths' folders, renamed only once all
    are written; on any error no target is touched. Returns the paths."""
    written: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            target = Path(path)
            written.append((_temporary(target, text), target))
    except BaseException:
        for temporary, _ in written:
            Path(temporary).unlink(missing_ok=True)
        raise
    for temporary, target in written:
        os.replace(temporary, target)
    return [target for _, target in written]


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    return write_together([(path, text)])[0]
