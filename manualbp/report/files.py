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
    directory, not a read-only file, a name the file system accepts, and
    :func:`check_folder_writable` for its folder."""
    target = Path(path)
    if len(os.fsencode(target.name)) > _NAME_MAX:
        raise UsageError(
            f"{option}: the file name of {target} is too long (at most {_NAME_MAX} bytes)"
        )
    try:
        if target.is_dir():
            raise UsageError(f"{option}: {target} is a directory, expected a file path")
        if target.exists() and not os.access(target, os.W_OK):
            raise UsageError(f"{option}: {target} is not writable")
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {target} ({_words(exc)})") from None
    check_folder_writable(target.parent, option, target)


def check_folder_writable(
    folder: str | os.PathLike[str], option: str, target: Path | None = None
) -> None:
    """Raise UsageError (one line, naming ``option``) unless files can be written in
    ``folder``: it exists or can be created, and the file system lets us.

    Permission bits are not enough (root ignores them; read-only and virtual file systems
    such as /sys and /proc refuse anyway), so the deepest existing folder on the way is
    probed: a temporary folder is created in it and removed (a name of its own, so two runs
    probing at once do not collide). Nothing is left behind. ``target`` (default: the
    folder) is the path named in the message."""
    wanted = Path(folder)
    named = wanted if target is None else target
    try:
        existing = wanted
        while not existing.exists():
            if existing == existing.parent:
                break
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"{option}: {existing} is a file, expected a folder for {named}")
        os.rmdir(tempfile.mkdtemp(prefix=_TEMPORARY, dir=existing))
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {named} ({_words(exc)})") from None


def _words(exc: OSError) -> str:
    """An OSError's reason in lower case (``permission denied``)."""
    return (exc.strerror or type(exc).__name__).lower()


_TEMPORARY = ".manualbp-"
"""Prefix of the temporary files and probe folders (the report's name is not in them)."""
_NAME_MAX = 255
"""Longest file name in bytes on the common file systems (ext4, XFS, APFS, NTFS)."""


def _temporary(target: Path, text: str) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=_TEMPORARY, suffix=".tmp", dir=target.parent)
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
