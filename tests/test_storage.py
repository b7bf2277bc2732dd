"""Run storage mirrored to a URI (tgrd/storage.py) through pyarrow's filesystems (file:// here:
the same code path as s3:// or gs://, with a bucket that is just another directory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tgrd import rundir, storage
from tgrd.storage import Mirror


def make_run(root: Path) -> None:
    (root / "gate" / "code").mkdir(parents=True)
    (root / "gate" / "code" / "gated.parquet").write_bytes(b"P" * 1000)
    (root / "gate" / "code" / "_SUCCESS").write_text("abc\n")
    (root / "distill" / "3way" / "ray" / "ckpt").mkdir(parents=True)
    (root / "distill" / "3way" / "ray" / "ckpt" / "state.pt").write_bytes(b"x")
    (root / "pipeline.json").write_text("{}")


def bucket_files(bucket: Path) -> set[str]:
    return {p.relative_to(bucket).as_posix() for p in bucket.rglob("*") if p.is_file()}


def test_push_is_incremental_and_leaves_ray_state_to_ray(tmp_path):
    local, bucket = tmp_path / "staging", tmp_path / "bucket" / "run"
    make_run(local)
    mirror = Mirror(local=str(local), uri=f"file://{bucket}")
    assert mirror.push() == 3
    assert bucket_files(bucket) == {
        "gate/code/gated.parquet",
        "gate/code/_SUCCESS",
        "pipeline.json",
    }
    assert mirror.push() == 0  # nothing changed
    # Same size, new content (a stage's fingerprint): still uploaded.
    (local / "gate" / "code" / "_SUCCESS").write_text("xyz\n")
    assert mirror.push(local / "gate") == 1
    assert (bucket / "gate" / "code" / "_SUCCESS").read_text() == "xyz\n"


def test_pull_into_a_fresh_staging_dir_restores_the_run(tmp_path):
    first, bucket = tmp_path / "head1", tmp_path / "bucket"
    make_run(first)
    Mirror(local=str(first), uri=f"file://{bucket}").push()
    second = Mirror(local=str(tmp_path / "head2"), uri=f"file://{bucket}")
    assert second.pull() == 3
    got = Path(second.local)
    assert (got / "gate" / "code" / "gated.parquet").read_bytes() == b"P" * 1000
    assert not (got / "distill").exists()  # Ray's run state stays at the URI
    assert second.pull() == 0  # already in sync
    # Content fingerprints: the pulled copy (new path, new mtime) matches the original.
    fp = rundir.fingerprint({"s": 1}, [first / "gate" / "code" / "gated.parquet"])
    assert fp == rundir.fingerprint({"s": 1}, [got / "gate" / "code" / "gated.parquet"])
    (got / "gate" / "code" / "gated.parquet").write_bytes(b"Q" * 1000)
    assert fp != rundir.fingerprint({"s": 1}, [got / "gate" / "code" / "gated.parquet"])


def test_localize_fetches_files_and_directories_a_node_lacks(tmp_path):
    bucket = tmp_path / "bucket"
    driver = tmp_path / "driver"
    make_run(driver)
    (driver / "distill" / "3way" / "student").mkdir(parents=True)
    (driver / "distill" / "3way" / "student" / "adapter.safetensors").write_bytes(b"w" * 64)
    (driver / "distill" / "3way" / "student" / "meta.json").write_text("{}")
    Mirror(local=str(driver), uri=f"file://{bucket}").push()
    # Another node: the same absolute staging path does not exist there.
    node = Mirror(local=str(tmp_path / "node"), uri=f"file://{bucket}")
    f = node.localize(tmp_path / "node" / "gate" / "code" / "gated.parquet")
    assert f.read_bytes() == b"P" * 1000
    d = node.localize(tmp_path / "node" / "distill" / "3way" / "student")
    assert sorted(p.name for p in d.iterdir()) == ["adapter.safetensors", "meta.json"]
    assert node.localize(d) == d  # present now: no transfer
    with pytest.raises(FileNotFoundError, match="not at file://"):
        node.localize(tmp_path / "node" / "nope.parquet")
    with pytest.raises(ValueError, match="not under the mirrored run directory"):
        node.remote(tmp_path / "elsewhere")
    assert storage.localize(f, None) == f


def test_publish_uploads_what_a_worker_made(tmp_path):
    bucket = tmp_path / "bucket"
    mirror = Mirror(local=str(tmp_path / "run"), uri=f"file://{bucket}")
    base = tmp_path / "run" / "groundtruth" / "pretrain" / "base.pt"
    base.parent.mkdir(parents=True)
    base.write_bytes(b"base")
    assert mirror.publish(base) == 1
    assert (bucket / "groundtruth" / "pretrain" / "base.pt").read_bytes() == b"base"


def test_web_urls_are_endpoints_not_storage():
    assert storage.is_uri("s3://b/x") and storage.is_uri("file:///tmp/x")
    assert not storage.is_uri("http://127.0.0.1:8000/v1") and not storage.is_uri("runs/x")


def test_run_location(tmp_path, monkeypatch):
    with storage.run_location(tmp_path / "plain") as out:
        assert out == tmp_path / "plain" and storage.active_mirror() is None
    monkeypatch.setenv("TGRD_STAGING", str(tmp_path / "staging"))
    uri = f"file://{tmp_path}/bucket/run/"
    with storage.run_location(uri) as out:
        mirror = storage.active_mirror()
        assert mirror is not None and mirror.uri == uri.rstrip("/")
        assert out.parent == tmp_path / "staging"
        (out / "a.txt").write_text("a")
        assert storage.storage_path(out / "distill" / "ray") == f"{mirror.uri}/distill/ray"
    assert storage.active_mirror() is None
    assert (tmp_path / "bucket" / "run" / "a.txt").read_text() == "a"  # pushed at the end
    assert storage.storage_path(tmp_path / "x") == str((tmp_path / "x").resolve())
    with pytest.raises(ValueError, match="nosuchfs://bucket"):
        with storage.run_location("nosuchfs://bucket/run"):
            pass


def test_pipeline_resumes_from_the_uri_on_a_fresh_head_node(tmp_path, monkeypatch):
    """A run at a URI: stages' outputs land there, and a new staging dir (a new head node)
    pulls them and skips every finished stage."""
    from tgrd.config import load_config
    from tgrd.pipeline import run_pipeline

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs" / "smoke.yaml", ["pipeline.stages=[synth,gate]"])
    uri = f"file://{tmp_path}/bucket/smoke"
    monkeypatch.setenv("TGRD_STAGING", str(tmp_path / "head1"))
    first = run_pipeline(cfg, uri, use_ray=False)
    assert not first["synth"].get("skipped") and not first["gate/code"].get("skipped")
    bucket = tmp_path / "bucket" / "smoke"
    for task in ("code", "finqa"):
        assert (bucket / "gate" / task / "gated.parquet").is_file()
        assert (bucket / "gate" / task / "_SUCCESS").is_file()
    assert (bucket / "synth" / "truth.parquet").is_file()
    monkeypatch.setenv("TGRD_STAGING", str(tmp_path / "head2"))
    again = run_pipeline(cfg, uri, use_ray=False)
    assert again["synth"]["skipped"] is True
    assert all(again[f"gate/{t}"].get("skipped") for t in ("code", "finqa")), again
    assert os.listdir(tmp_path / "head2")  # the second head worked from its own staging copy


def test_cli_gate_reads_and_writes_uris(tmp_path, monkeypatch, shared_data, capsys):
    """`tgrd gate s3://.../in.json --out s3://.../gate`: the input is copied into the mirrored run
    (so workers anywhere can fetch it) and the outputs land at the URI."""
    from tgrd.cli import main

    monkeypatch.setenv("TGRD_STAGING", str(tmp_path / "staging"))
    source = shared_data / "llamafactory_demo" / "identity.json"
    out = tmp_path / "bucket" / "gate"
    rc = main(["gate", f"file://{source}", "--out", f"file://{out}", "--no-ray"])
    assert rc == 0, capsys.readouterr().err
    assert (out / "gated.parquet").is_file() and (out / "summary.json").is_file()
    assert list((out / "_inputs").glob("*/identity.json"))
    # A URI input with a local --out is refused with the flag named.
    rc = main(["gate", f"file://{source}", "--out", str(tmp_path / "local")])
    assert rc == 2 and "argument inputs (['file://" in capsys.readouterr().err


def test_ingest_tasks_fetch_run_files_their_node_lacks(tmp_path, shared_data):
    """A Ray Data parse task on another node gets a staging path that exists only on the driver's
    node: it reads the file from the run's URI instead."""
    import pyarrow as pa

    from tgrd.config import IngestConfig
    from tgrd.ingest import _parse_files_batch

    bucket = tmp_path / "bucket"
    (bucket / "synth").mkdir(parents=True)
    data = (shared_data / "llamafactory_demo" / "identity.json").read_bytes()
    (bucket / "synth" / "identity.json").write_bytes(data)
    node = Mirror(local=str(tmp_path / "staging"), uri=f"file://{bucket}")
    path = str(tmp_path / "staging" / "synth" / "identity.json")
    batch = pa.table({"path": [path]})
    cfg = IngestConfig().model_dump()
    rows = pa.concat_tables(list(_parse_files_batch(batch, cfg, node)))
    assert rows.num_rows == 91 and set(rows.column("source").to_pylist()) == {path}
    with pytest.raises(FileNotFoundError):  # without the mirror the path is simply missing
        list(_parse_files_batch(pa.table({"path": [str(tmp_path / "nowhere.json")]}), cfg))
