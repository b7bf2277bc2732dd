"""The end-to-end pipeline, stage by stage, under one run directory.

    tgrd pipeline --config configs/demo.yaml        # or: python jobs/pipeline.py --config ...

Stages that exist today: ingest + gate (tgrd/gate_stage.py) over ``ingest.inputs``, or over the
bundled example files (tgrd/examples: good rows and malformed ones of every kind) when no input
is configured. Each stage writes into RUN_DIR/<stage>/ and is skipped when already complete.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from tgrd.config import Config


def bundled_examples() -> Path:
    """Directory of the small example files shipped inside the package."""
    return Path(str(resources.files("tgrd") / "examples"))


def run_pipeline(cfg: Config, run_dir: str | Path | None = None, use_ray: bool = True) -> dict[str, Any]:
    """Run every available stage; returns {stage: summary} and writes RUN_DIR/pipeline.json."""
    from tgrd import rundir
    from tgrd.gate_stage import run_gate_stage

    out = Path(run_dir) if run_dir else Path(cfg.run.root) / cfg.run.name
    rundir.prepare(out, cfg)
    inputs = cfg.ingest.inputs or [str(bundled_examples())]
    results = {"gate": run_gate_stage(inputs, out / "gate", cfg, use_ray=use_ray)}
    (out / "pipeline.json").write_text(json.dumps(results, indent=2, default=str))
    return results
