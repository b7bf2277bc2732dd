"""Ingest: JSONL, JSONL.gz, JSON and Parquet files → canonical records + a quarantine.

Every input row ends up in exactly one of two tables:

- records: ``id, task, messages (list<struct<role, content>>), meta (JSON string), source, line``
- quarantine: ``source, line, reason, detail, raw (truncated), id`` — invalid JSON, non-UTF-8
  bytes, missing or ill-typed fields, unknown roles, unknown shapes, rows above
  ``ingest.max_row_bytes``, unreadable files, and duplicate ids (the first occurrence is kept).

``line`` is the 1-based line for JSONL, the 1-based element for a JSON array and the 1-based
row for Parquet, so a user can open the file at the reported place.

Two drivers share :func:`parse_file`: :func:`read_records` runs in-process (tests, small data),
:func:`read_records_ray` parses files as Ray Data tasks (``read_binary_files`` → ``map_batches``)
for the pipeline. Usage::

    records, quarantine = read_records(["data/pool.jsonl"], IngestConfig())
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tgrd.config import IngestConfig

if TYPE_CHECKING:
    from tgrd.storage import Mirror
from tgrd.records import (
    REASON_DUPLICATE_ID,
    REASON_INVALID_JSON,
    REASON_INVALID_UTF8,
    REASON_TOO_LARGE,
    REASON_UNREADABLE_FILE,
    RecordError,
    to_canonical,
)

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz", ".parquet")

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
RECORD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("task", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("meta", pa.string()),
        ("source", pa.string()),
        ("line", pa.int64()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
        ("id", pa.string()),
    ]
)
# The Ray path carries both kinds of row in one table until it splits them.
_MIXED_SCHEMA = pa.schema(
    list(RECORD_SCHEMA) + [f for f in QUARANTINE_SCHEMA if f.name not in ("source", "line", "id")]
)


def discover_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories into the sorted list of readable input files.

    Raises:
        FileNotFoundError: a path does not exist, or a directory holds no supported file.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
            if not inside:
                raise FileNotFoundError(f"{path}: no {', '.join(SUFFIXES)} files inside")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return found


def read_bytes(path: str) -> bytes:
    """Whole file from a local path or a pyarrow-filesystem URI (s3://, gs://, hdfs://)."""
    if "://" in path:
        from pyarrow import fs

        filesystem, inner = fs.FileSystem.from_uri(path)
        with filesystem.open_input_stream(inner, compression=None) as stream:
            return stream.readall()
    return Path(path).read_bytes()


def _quarantine(
    source: str, line: int, error: RecordError, raw: str, cfg: IngestConfig, rid: str | None = None
) -> dict[str, Any]:
    return {
        "source": source,
        "line": line,
        "reason": error.reason,
        "detail": error.detail,
        "raw": raw[: cfg.raw_text_chars],
        "id": rid,
    }


def _convert(
    row: Any, source: str, line: int, raw: str, cfg: IngestConfig
) -> Iterator[dict[str, Any]]:
    if isinstance(row, dict) and isinstance(row.get("meta"), str):
        # Our own Parquet outputs store meta as a JSON string.
        try:
            row = dict(row, meta=json.loads(row["meta"]) if row["meta"] else {})
        except json.JSONDecodeError as exc:
            yield _quarantine(
                source, line, RecordError("ill_typed_field", f"meta is not JSON: {exc}"), raw, cfg
            )
            return
    try:
        records = to_canonical(row, cfg.default_task)
    except RecordError as err:
        rid = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else None
        yield _quarantine(source, line, err, raw, cfg, rid)
        return
    for rec in records:
        yield {
            "id": rec["id"],
            "task": rec["task"],
            "messages": rec["messages"],
            "meta": json.dumps(rec["meta"], ensure_ascii=False, default=str),
            "source": source,
            "line": line,
        }


def _parse_json_lines(data: bytes, source: str, cfg: IngestConfig) -> Iterator[dict[str, Any]]:
    for lineno, raw_line in enumerate(data.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        preview = raw_line[: cfg.raw_text_chars * 4].decode("utf-8", errors="replace")
        if len(raw_line) > cfg.max_row_bytes:
            yield _quarantine(
                source,
                lineno,
                RecordError(
                    REASON_TOO_LARGE,
                    f"{len(raw_line)} bytes > ingest.max_row_bytes={cfg.max_row_bytes}",
                ),
                preview,
                cfg,
            )
            continue
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _quarantine(
                source, lineno, RecordError(REASON_INVALID_UTF8, str(exc)), preview, cfg
            )
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            yield _quarantine(
                source, lineno, RecordError(REASON_INVALID_JSON, str(exc)), preview, cfg
            )
            continue
        yield from _convert(row, source, lineno, text, cfg)


def _parse_json_document(data: bytes, source: str, cfg: IngestConfig) -> Iterator[dict[str, Any]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield _quarantine(
            source,
            0,
            RecordError(REASON_INVALID_UTF8, str(exc)),
            data[: cfg.raw_text_chars].decode("utf-8", errors="replace"),
            cfg,
        )
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and "\n" in text.strip():
            yield from _parse_json_lines(data, source, cfg)  # a .json file that is really JSONL
        else:
            yield _quarantine(
                source, exc.lineno, RecordError(REASON_INVALID_JSON, str(exc)), text, cfg
            )
        return
    rows = doc if isinstance(doc, list) else [doc]
    for index, row in enumerate(rows, start=1):
        raw = json.dumps(row, ensure_ascii=False)
        if len(raw.encode("utf-8")) > cfg.max_row_bytes:
            yield _quarantine(
                source,
                index,
                RecordError(
                    REASON_TOO_LARGE, f"element > ingest.max_row_bytes={cfg.max_row_bytes}"
                ),
                raw,
                cfg,
            )
            continue
        yield from _convert(row, source, index, raw, cfg)


def _parse_parquet(data: bytes, source: str, cfg: IngestConfig) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    for index, row in enumerate(table.to_pylist(), start=1):
        raw = json.dumps(row, ensure_ascii=False, default=str)
        if len(raw.encode("utf-8")) > cfg.max_row_bytes:
            yield _quarantine(
                source,
                index,
                RecordError(REASON_TOO_LARGE, f"row > ingest.max_row_bytes={cfg.max_row_bytes}"),
                raw,
                cfg,
            )
            continue
        yield from _convert(row, source, index, raw, cfg)


def parse_file(source: str, data: bytes, cfg: IngestConfig) -> Iterator[dict[str, Any]]:
    """Parse one file's bytes into record rows and quarantine rows (those carry ``reason``)."""
    name = source.lower()
    try:
        if name.endswith(".gz"):
            name = name[:-3]
            # Ray's file readers may already have decompressed by extension: trust the magic.
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
        if name.endswith(".parquet"):
            yield from _parse_parquet(data, source, cfg)
        elif name.endswith(".json"):
            yield from _parse_json_document(data, source, cfg)
        else:
            yield from _parse_json_lines(data, source, cfg)
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        # Corrupt gzip or Parquet: the whole file is unreadable; say so once, with the cause.
        yield _quarantine(
            source, 0, RecordError(REASON_UNREADABLE_FILE, f"{type(exc).__name__}: {exc}"), "", cfg
        )


def _split(rows: Iterable[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    records, quarantine = [], []
    for row in rows:
        (quarantine if "reason" in row else records).append(row)
    return records, quarantine


def mark_duplicate_ids(
    records: pa.Table, quarantine: pa.Table, cfg: IngestConfig
) -> tuple[pa.Table, pa.Table]:
    """Move every non-first occurrence of an id into the quarantine (reason ``duplicate_id``)."""
    import numpy as np

    ids = records.column("id").to_numpy(zero_copy_only=False)
    _, first_index = np.unique(ids, return_index=True)
    keep = np.zeros(len(ids), dtype=bool)
    keep[first_index] = True
    if keep.all():
        return records, quarantine
    dups = records.filter(pa.array(~keep))
    first_of = {ids[i]: i for i in first_index}
    rows = [
        {
            "source": d["source"],
            "line": d["line"],
            "reason": REASON_DUPLICATE_ID,
            "detail": f"id {d['id']!r} first seen at {records['source'][first_of[d['id']]]}"
            f":{records['line'][first_of[d['id']]]}",
            "raw": json.dumps(d["messages"], ensure_ascii=False)[: cfg.raw_text_chars],
            "id": d["id"],
        }
        for d in dups.to_pylist()
    ]
    extra = pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)
    return records.filter(pa.array(keep)), pa.concat_tables([quarantine, extra])


def read_records(paths: Iterable[str | Path], cfg: IngestConfig) -> tuple[pa.Table, pa.Table]:
    """Read files in-process into (records, quarantine) Arrow tables; duplicates quarantined."""
    records, quarantine = [], []
    for path in discover_inputs(paths):
        got, bad = _split(parse_file(str(path), path.read_bytes(), cfg))
        records += got
        quarantine += bad
    rec_table = pa.Table.from_pylist(records, schema=RECORD_SCHEMA)
    q_table = pa.Table.from_pylist(quarantine, schema=QUARANTINE_SCHEMA)
    return mark_duplicate_ids(rec_table, q_table, cfg)


def _parse_files_batch(
    batch: pa.Table, cfg: dict[str, Any], mirror: Mirror | None = None
) -> Iterator[pa.Table]:
    """Ray Data function: one row per file path → parsed rows of both kinds.

    With a run mirrored to a URI, files of the run are fetched onto this node first.
    """
    from tgrd.storage import localize

    ingest_cfg = IngestConfig.model_validate(cfg)
    for path in batch.column("path").to_pylist():
        chunk: list[dict[str, Any]] = []
        local = path if "://" in path else str(localize(path, mirror))
        for row in parse_file(path, read_bytes(local), ingest_cfg):
            chunk.append(row)
            if len(chunk) >= ingest_cfg.batch_rows:
                yield _mixed_table(chunk)
                chunk = []
        if chunk:
            yield _mixed_table(chunk)


def _mixed_table(rows: list[dict[str, Any]]) -> pa.Table:
    full = [{name: row.get(name) for name in _MIXED_SCHEMA.names} for row in rows]
    return pa.Table.from_pylist(full, schema=_MIXED_SCHEMA)


def read_records_ray(paths: Iterable[str | Path], cfg: IngestConfig) -> tuple[Any, pa.Table]:
    """Parse files as Ray Data tasks; returns (records Dataset, quarantine Arrow table).

    The records dataset is materialised once so duplicate ids can be found globally (ids for
    ~84k rows fit easily in the driver) before later stages stream over it.
    """
    import pyarrow.compute as pc
    import ray.data

    from tgrd.storage import active_mirror

    files = [str(p.resolve()) for p in discover_inputs(paths)]
    # ray.data paths are relative to nothing on a cluster: pass absolute local paths.
    # One row per file; each task reads its file itself. (ray.data.read_binary_files decompresses
    # by extension and fails the whole job on a corrupt .gz, which must be quarantined instead.)
    mixed = (
        ray.data.from_items([{"path": f} for f in files], override_num_blocks=len(files))
        .map_batches(
            _parse_files_batch,
            fn_kwargs={"cfg": cfg.model_dump(), "mirror": active_mirror()},
            batch_size=1,
            batch_format="pyarrow",
            num_cpus=0.5,
        )
        .materialize()
    )
    blocks = [ray.get(ref) for ref in mixed.to_arrow_refs()]
    table = pa.concat_tables(blocks) if blocks else _MIXED_SCHEMA.empty_table()
    is_bad = pc.is_valid(table.column("reason"))
    quarantine = table.filter(is_bad).select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)
    records = table.filter(pc.invert(is_bad)).select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)
    records, quarantine = mark_duplicate_ids(records, quarantine, cfg)
    return ray.data.from_arrow(records), quarantine
