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
    directory, not a read-only file, and :func:`check_folder_writable` for its folder."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option}: {target} is a directory, expected a file path")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{option}: {target} is not writable")
    check_folder_writable(target.parent, option, target)


def check_folder_writable(
    folder: str | os.PathLike[str], option: str, target: Path | None = None
) -> None:
    """Raise UsageError (one line, naming ``option``) unless files can be written in
    ``folder``: it exists or can be created, and the file system lets us.

    Permission bits are not enough (root ignores them; read-only and virtual file systems
    such as /sys and /proc refuse anyway), so the folder is probed: a temporary file is
    created and removed in it, or, when the folder does not exist yet, its first missing
    component is created and removed. Nothing is left behind. ``target`` (default: the
    folder) is the path named in the message."""
    wanted = Path(folder)
    named = wanted if target is None else target
    existing = wanted
    while not existing.exists():
        if existing == existing.parent:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option}: {existing} is a file, expected a folder for {named}")
    try:
        _probe(existing, wanted)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise UsageError(f"{option}: cannot write {named} ({reason})") from None


def _probe(existing: Path, wanted: Path) -> None:
    """Create and remove a file in ``wanted`` if it exists, else its first missing folder
    below ``existing``: raises OSError where the file system refuses."""
    if existing == wanted:
        handle, temporary = tempfile.mkstemp(prefix=".manualbp-probe.", dir=existing)
        os.close(handle)
        os.unlink(temporary)
        return
    first = existing / wanted.relative_to(existing).parts[0]
    first.mkdir()
    first.rmdir()


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
