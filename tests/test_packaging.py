"""The package list in pyproject.toml covers every package, so a wheel install is complete."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "manualbp").rglob("__init__.py")
    }
    on_disk.add("manualbp.reference")
    assert on_disk == listed, f"pyproject lists {sorted(listed)}, disk has {sorted(on_disk)}"


def test_reference_folder_is_installed_as_a_package() -> None:
    from importlib.resources import files

    assert (files("manualbp.reference") / "__init__.py").is_file()
