"""Run storage: a local (or shared-filesystem) directory, or a cloud URI through pyarrow filesystems.

    tgrd run --config configs/paper/tgrd.yaml --out s3://my-bucket/tgrd/paper
    tgrd run --config configs/smoke.yaml --out file:///mnt/bucket/smoke     # same code path

A plain path is used in place: every node must see it (NFS/EFS/Filestore at the same mount).

A URI (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://``: whatever
``pyarrow.fs.FileSystem.from_uri`` opens, with credentials from the environment) is *mirrored*:
the driver works in a local staging directory (``$TGRD_STAGING``, default
``~/.cache/tgrd/staging/<hash of the URI>``), pulls what the URI already holds before the first
stage (so a resubmitted job on a fresh head node skips finished stages), and pushes each stage's
outputs when the stage ends. A killed job loses at most the stage it was in.

Workers on other nodes never see the staging directory. The driver hands them a :class:`Mirror`
with its paths; :meth:`Mirror.localize` fetches a path from the URI into the same local path on
that node the first time it is needed, and :meth:`Mirror.publish` uploads what a worker made for
others. Ray Train and Ray Tune write their run state straight to the URI
(:func:`storage_path`), so checkpoints survive the loss of any node.

Sync is incremental: ``.tgrd_sync.json`` in the staging directory records each file's local
(size, mtime) and remote (size, mtime) at the last transfer; only files that changed on one
side since then move. Ray's own run state (``ray/``, ``tune/``) is never mirrored: it already
lives at the URI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYNC_FILE = ".tgrd_sync.json"
# Directories Ray Train / Ray Tune write to the URI themselves (storage_path).
RAY_OWNED = frozenset({"ray", "tune"})
CHUNK = 8 << 20


def is_uri(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names storage by scheme (``s3://...``) rather than a local path.

    ``http(s)://`` is an endpoint (a teacher's base URL), never storage.
    """
    text = str(location)
    return "://" in text and not text.lower().startswith(("http://", "https://"))


def default_staging_root() -> Path:
    return Path(os.environ.get("TGRD_STAGING") or Path.home() / ".cache" / "tgrd" / "staging")


def _filesystem(uri: str) -> tuple[Any, str]:
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # ArrowInvalid is a ValueError
        raise ValueError(f"storage URI {uri!r}: {exc}") from exc


def _is_ray_owned(rel: str) -> bool:
    return any(part in RAY_OWNED for part in Path(rel).parts[:-1])


@dataclass(frozen=True)
class Mirror:
    """A local directory mirrored to a URI; picklable, so workers get it as an argument."""

    local: str  # resolved staging directory on the driver's node (same path on every node)
    uri: str  # what it mirrors, without a trailing slash

    # -- paths ---------------------------------------------------------------------------------
    def relative(self, path: str | os.PathLike[str]) -> str:
        p = Path(path).resolve()  # as ``local`` is: a symlinked prefix must not hide the run
        try:
            return p.relative_to(self.local).as_posix()
        except ValueError:
            raise ValueError(f"{p} is not under the mirrored run directory {self.local}") from None

    def remote(self, path: str | os.PathLike[str]) -> str:
        """The URI of a path under the staging directory."""
        rel = self.relative(path)
        return self.uri if rel == "." else f"{self.uri}/{rel}"

    # -- transfers -----------------------------------------------------------------------------
    def localize(self, path: str | os.PathLike[str]) -> Path:
        """Make ``path`` (a file or directory under the run) present on this node; return it.

        A no-op where it already exists (the driver's node, a shared filesystem); elsewhere the
        file or directory is downloaded from the URI into the same absolute path.
        """
        p = Path(path)
        if p.exists():
            return p
        import pyarrow.fs as pafs

        fs, root = _filesystem(self.remote(p))
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{p}: not on this node and not at {self.remote(p)}")
        with _node_lock(p):
            if not p.exists():  # else another worker on this node fetched it meanwhile
                _download_tree(fs, root, info, p)
        return p

    def publish(self, path: str | os.PathLike[str]) -> int:
        """Upload a file or directory under the run to the URI; returns the files uploaded."""
        p = Path(path)
        fs, root = _filesystem(self.remote(p))
        files = [p] if p.is_file() else [f for f in sorted(p.rglob("*")) if f.is_file()]
        for f in files:
            _upload(f, fs, root if f == p else f"{root}/{f.relative_to(p).as_posix()}")
        return len(files)

    # -- whole-run sync (driver) ---------------------------------------------------------------
    def pull(self) -> int:
        """Download what changed at the URI since the last sync; returns the files fetched."""
        import pyarrow.fs as pafs

        fs, root = _filesystem(self.uri)
        state = self._load_state()
        fetched = 0
        if fs.get_file_info(root).type == pafs.FileType.NotFound:
            return 0
        for entry in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
            rel = entry.path[len(root) :].lstrip("/")
            if entry.type != pafs.FileType.File or _is_ray_owned(rel):
                continue
            remote_sig = [entry.size, entry.mtime_ns]
            local = Path(self.local) / rel
            known = state.get(rel, {})
            if local.is_file() and known.get("remote") == remote_sig:
                continue
            _download(fs, entry.path, local)
            state[rel] = {"local": _local_sig(local), "remote": remote_sig}
            fetched += 1
        self._save_state(state)
        return fetched

    def push(self, path: str | os.PathLike[str] | None = None) -> int:
        """Upload files under ``path`` (default: the whole run) changed since the last sync."""
        base = Path(path) if path is not None else Path(self.local)
        if not base.exists():
            return 0
        fs, root = _filesystem(self.uri)  # one filesystem for every file (S3 clients are costly)
        state = self._load_state()
        files = [base] if base.is_file() else sorted(f for f in base.rglob("*") if f.is_file())
        pushed = 0
        for f in files:
            rel = self.relative(f)
            if _is_ray_owned(rel) or f.name == SYNC_FILE or ".partial-" in f.name:
                continue
            sig = _local_sig(f)
            if state.get(rel, {}).get("local") == sig:
                continue
            target = f"{root.rstrip('/')}/{rel}"
            _upload(f, fs, target)
            info = fs.get_file_info(target)
            state[rel] = {"local": sig, "remote": [info.size, info.mtime_ns]}
            pushed += 1
        self._save_state(state)
        return pushed

    def _load_state(self) -> dict[str, Any]:
        path = Path(self.local) / SYNC_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def _save_state(self, state: dict[str, Any]) -> None:
        path = Path(self.local) / SYNC_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True))
        tmp.replace(path)


def _local_sig(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _download(fs: Any, src: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    with fs.open_input_stream(src) as r, tmp.open("wb") as w:
        while chunk := r.read(CHUNK):
            w.write(chunk)
    tmp.replace(dest)  # a killed download never leaves half a file under the real name


def _download_tree(fs: Any, root: str, info: Any, dest: Path) -> None:
    """Download a file or a whole directory to ``dest``, which appears only when complete."""
    import pyarrow.fs as pafs

    if info.type == pafs.FileType.File:
        _download(fs, root, dest)  # itself atomic
        return
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    for entry in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        if entry.type == pafs.FileType.File:
            _download(fs, entry.path, tmp / entry.path[len(root) :].lstrip("/"))
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.replace(dest)


def _upload(src: Path, fs: Any, dest: str) -> None:
    parent = dest.rsplit("/", 1)[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    with src.open("rb") as r, fs.open_output_stream(dest) as w:
        while chunk := r.read(CHUNK):
            w.write(chunk)


@contextlib.contextmanager
def _node_lock(path: Path) -> Iterator[None]:
    """One download of a path at a time on this node.

    flock locks belong to an open file description, so each ``open`` excludes the others:
    threads of one process as well as other processes.
    """
    import fcntl

    lock_path = path.with_name(f".{path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- the run location of a driver ------------------------------------------------------------------

_ACTIVE: list[Mirror] = []


def active_mirror() -> Mirror | None:
    """The mirror the current driver's run lives in, or None for a local/shared directory.

    Driver-side code that hands run paths to Ray workers (Train loops, scoring actors, Tune
    trials) passes this along so the workers can :meth:`Mirror.localize` them.
    """
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def run_location(location: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the local directory to run in; with a URI, mirror it (pull now, push at the end).

    Stages call :func:`checkpoint` after finishing to push early; the final push happens here
    even when a stage fails, so the URI holds everything that finished.
    """
    if not is_uri(location):
        yield Path(location)
        return
    uri = str(location).rstrip("/")
    _filesystem(uri)  # a bad scheme or missing credentials fail before any work
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    staging = default_staging_root() / digest
    staging.mkdir(parents=True, exist_ok=True)
    mirror = Mirror(local=str(staging.resolve()), uri=uri)
    try:
        mirror.pull()
    except OSError as exc:  # no credentials, no bucket, no permission: say which URI
        raise ValueError(f"storage URI {uri!r}: cannot read it: {exc}") from exc
    _ACTIVE.append(mirror)
    try:
        yield Path(mirror.local)
    finally:
        _ACTIVE.pop()
        mirror.push()


def fetch_input(uri: str, mirror: Mirror) -> Path:
    """Copy an input named by URI into the mirrored run (``_inputs/``) and return its path.

    The copy is pushed back under the run's URI at once, so workers on other nodes can
    :meth:`Mirror.localize` it like any other file of the run.
    """
    import pyarrow.fs as pafs

    fs, root = _filesystem(uri)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{uri}: no such file or directory")
    name = root.rstrip("/").rsplit("/", 1)[-1] or "input"
    dest = Path(mirror.local) / "_inputs" / hashlib.sha256(uri.encode()).hexdigest()[:12] / name
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        _download_tree(fs, root, info, dest)
    mirror.push(dest)
    return dest


def checkpoint(path: str | os.PathLike[str]) -> int:
    """Push ``path`` to the active mirror's URI (no-op without one); returns files uploaded."""
    mirror = active_mirror()
    return mirror.push(path) if mirror is not None else 0


def localize(path: str | os.PathLike[str], mirror: Mirror | None) -> Path:
    """``mirror.localize(path)`` for a path of a mirrored run; any other path as it is.

    Paths outside the run (a user's input files, model directories) must be on every node
    already; reading them fails with the usual error naming the path.
    """
    p = Path(path)
    if mirror is None or p.exists():
        return p
    try:
        mirror.relative(p)
    except ValueError:
        return p
    return mirror.localize(p)


def storage_path(path: str | os.PathLike[str]) -> str:
    """Ray Train/Tune ``storage_path`` for a directory of the run (the URI when mirrored)."""
    mirror = active_mirror()
    if mirror is not None:
        with contextlib.suppress(ValueError):
            return mirror.remote(path)
    return str(Path(path).resolve())


def delete_tree(location: str | os.PathLike[str]) -> None:
    """Remove a directory, local or at a URI; a missing one is fine."""
    if not is_uri(location):
        import shutil

        shutil.rmtree(location, ignore_errors=True)
        return
    import pyarrow.fs as pafs

    fs, path = _filesystem(str(location))
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)
