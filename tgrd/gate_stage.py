"""The ingest + gate stage: input files → ``gated.parquet``, ``quarantine.parquet``, ``summary.json``.

    tgrd gate data/*.jsonl --out runs/gate              # Ray Data (local Ray unless configured)
    tgrd gate data/ --out runs/gate --no-ray            # in-process, same outputs

Outputs in OUT:

- ``gated.parquet``: every canonical record with ``gate_pass`` (bool) and ``gate_reason``
  ('' when passing), sorted by (source, line) so reruns are byte-comparable.
- ``quarantine.parquet``: ``source, line, reason, detail, raw, id`` for rows that never became
  records (bad JSON, bad bytes, bad fields, too large, duplicate id).
- ``summary.json``: rows read, records, passed, failed per reason, quarantined per reason.
  ``rows_read == records + quarantined`` and ``records == passed + failed`` always hold.

A finished stage with the same inputs and settings is skipped (see tgrd/rundir.py).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tgrd import rundir
from tgrd.config import Config
from tgrd.gates import gate_table
from tgrd.ingest import QUARANTINE_SCHEMA, discover_inputs, read_records

GATED_FILE = "gated.parquet"
QUARANTINE_FILE = "quarantine.parquet"
SUMMARY_FILE = "summary.json"


def summarize(gated: pa.Table, quarantine: pa.Table) -> dict[str, Any]:
    reasons = Counter(gated.column("gate_reason").to_pylist())
    passed = reasons.pop("", 0)
    q_reasons = Counter(quarantine.column("reason").to_pylist())
    return {
        "rows_read": gated.num_rows + quarantine.num_rows,
        "records": gated.num_rows,
        "passed": passed,
        "failed": sum(reasons.values()),
        "failed_by_reason": dict(sorted(reasons.items())),
        "quarantined": quarantine.num_rows,
        "quarantined_by_reason": dict(sorted(q_reasons.items())),
        "duplicate_ids": q_reasons.get("duplicate_id", 0),
        "by_source": {
            src: {"records": n}
            for src, n in sorted(Counter(gated.column("source").to_pylist()).items())
        },
    }


def _gate_with_ray(files: list[Path], cfg: Config) -> tuple[pa.Table, pa.Table]:
    import ray

    from tgrd.gates import gate_dataset
    from tgrd.ingest import read_records_ray
    from tgrd.raysession import ensure_ray

    ensure_ray(cfg.ray)
    records_ds, quarantine = read_records_ray(files, cfg.ingest)
    gated_ds = gate_dataset(records_ds, cfg.gates)
    blocks = [ray.get(ref) for ref in gated_ds.to_arrow_refs()]
    gated = pa.concat_tables(blocks) if blocks else None
    if gated is None:  # no records at all: keep the schema so readers still work
        from tgrd.ingest import RECORD_SCHEMA

        gated = gate_table(RECORD_SCHEMA.empty_table(), cfg.gates)
    return gated, quarantine


def run_gate_stage(
    inputs: list[str], out_dir: str | Path, cfg: Config, use_ray: bool = True
) -> dict[str, Any]:
    """Ingest ``inputs``, gate every record, write the three outputs; returns the summary."""
    files = discover_inputs(inputs)
    out = Path(out_dir)
    stage_fp = rundir.fingerprint(
        {"ingest": cfg.ingest.model_dump(), "gates": cfg.gates.model_dump()}, files
    )
    if rundir.is_done(out, stage_fp) and (out / SUMMARY_FILE).is_file():
        summary = json.loads((out / SUMMARY_FILE).read_text())
        summary["skipped"] = True
        return summary
    rundir.prepare(out, cfg)
    start = time.perf_counter()
    if use_ray:
        gated, quarantine = _gate_with_ray(files, cfg)
    else:
        records, quarantine = read_records(files, cfg.ingest)
        gated = gate_table(records, cfg.gates)
    gated = gated.sort_by([("source", "ascending"), ("line", "ascending")])
    quarantine = quarantine.cast(QUARANTINE_SCHEMA).sort_by(
        [("source", "ascending"), ("line", "ascending")]
    )
    pq.write_table(gated, out / GATED_FILE)
    pq.write_table(quarantine, out / QUARANTINE_FILE)
    summary = summarize(gated, quarantine)
    summary["inputs"] = [str(f) for f in files]
    summary["seconds"] = round(time.perf_counter() - start, 3)
    summary["engine"] = "ray" if use_ray else "local"
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    rundir.mark_done(out, stage_fp)
    return summary
