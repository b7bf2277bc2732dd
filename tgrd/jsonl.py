"""Strict JSON Lines reading for trusted inputs (benchmarks, problem sets, adapter sources).

    from tgrd.jsonl import read_json_objects
    for line_no, obj in read_json_objects("benchmark.jsonl.gz"): ...

Plain or gzip (by the ``.gz`` suffix). Blank lines are skipped; a line that is not JSON, or not a
JSON object, raises ``ValueError`` naming the file and line. Untrusted training data goes through
tgrd/ingest.py instead, which quarantines bad rows rather than failing.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def read_json_objects(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a ``.jsonl`` / ``.jsonl.gz`` file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: invalid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise ValueError(
                    f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}"
                )
            rows.append((line_no, obj))
    return rows
