"""Run directories: every stage writes under one, with the config and versions that made it.

A stage's directory holds ``config.yaml`` (the fully resolved config), ``versions.json``
(package versions) and, once the stage has finished, ``_SUCCESS`` holding a fingerprint of its
inputs and settings. Rerunning a stage whose fingerprint matches is a no-op (STYLE.md §7);
changing an input file or a setting reruns it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from tgrd.config import Config, dump_config

TRACKED_PACKAGES = (
    "tgrd",
    "ray",
    "torch",
    "transformers",
    "peft",
    "openai",
    "pyarrow",
    "numpy",
    "scipy",
)
SUCCESS_FILE = "_SUCCESS"


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fingerprint(settings: Any, inputs: list[Path] | None = None) -> str:
    """Hash of a stage's settings and its input files' names and contents.

    Contents, not paths and mtimes: a run mirrored to cloud storage (tgrd/storage.py) is pulled
    into a fresh staging directory with new mtimes, and its finished stages must still match.
    """
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in sorted(inputs or []):
        h.update(f"{Path(path).name}|{file_digest(path)}".encode())
    return h.hexdigest()[:20]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """blake2b of a file's bytes, memoised per (path, size, mtime) within the process."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as fh:
            while chunk := fh.read(8 << 20):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def prepare(out_dir: str | Path, cfg: Config) -> Path:
    """Create ``out_dir`` and write the resolved config and package versions into it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config(cfg), encoding="utf-8")
    (out / "versions.json").write_text(json.dumps(package_versions(), indent=2), encoding="utf-8")
    return out


def is_done(out_dir: str | Path, stage_fingerprint: str) -> bool:
    marker = Path(out_dir) / SUCCESS_FILE
    return marker.is_file() and marker.read_text().strip() == stage_fingerprint


def mark_done(out_dir: str | Path, stage_fingerprint: str) -> None:
    (Path(out_dir) / SUCCESS_FILE).write_text(stage_fingerprint + "\n")
