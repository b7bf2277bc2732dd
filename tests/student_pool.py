"""The student tests' data: the smoke synthetic benchmark, gated, with truth labels as teacher.

The teacher stage is a separate component; here the generator's ground truth stands in for a
perfectly clean teacher (``label3`` for the 3-way student, ``label5`` for the 5-way ablation).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tgrd.config import load_config
from tgrd.gate_stage import run_gate_stage
from tgrd.synth.generate import generate

PROJECT = Path(__file__).resolve().parents[1]
SMOKE = PROJECT / "configs" / "student_smoke.yaml"


def truth_labels(truth: Path, out: Path, column: str = "label3") -> Path:
    """labels.parquet (id, label, rubric_version, cached) from the generator's truth table."""
    t = pq.read_table(truth)
    labels = t.column(column).to_pylist()
    if column == "label5":  # the 5-way rubric has no MALFORMED class: it is structural garbage
        labels = ["DEGENERATE" if x == "MALFORMED" else x for x in labels]
    pq.write_table(
        pa.table(
            {
                "id": t.column("id"),
                "label": labels,
                "rubric_version": ["truth"] * t.num_rows,
                "cached": [False] * t.num_rows,
            }
        ),
        out,
    )
    return out


def make_run(root: Path) -> dict[str, Path]:
    """synth → gate (in-process) → truth labels; returns the paths the student stages read."""
    cfg = load_config(PROJECT / "configs" / "synth_smoke.yaml")
    synth = root / "synth"
    generate(cfg.synth, synth)
    gate_dir = root / "gate"
    run_gate_stage(
        [str(synth / "code" / "pool.jsonl"), str(synth / "finqa" / "pool.jsonl")],
        gate_dir,
        load_config(SMOKE),
        use_ray=False,
    )
    return {
        "synth": synth,
        "gated": gate_dir / "gated.parquet",
        "labels": truth_labels(synth / "truth.parquet", root / "labels.parquet"),
        "labels5": truth_labels(synth / "truth.parquet", root / "labels5.parquet", "label5"),
        "candidates": [synth / "code" / "candidates", synth / "finqa" / "candidates"],
    }
