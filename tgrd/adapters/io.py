"""Reading and writing JSON Lines for the adapters (plain or gzip), with errors naming the line.

from tgrd.adapters.io import read_jsonl, write_jsonl
rows = read_jsonl("../shared/data/humaneval/HumanEval.jsonl.gz")
write_jsonl("out/records.jsonl", rows)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tgrd.jsonl import read_json_objects


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All objects of a ``.jsonl`` or ``.jsonl.gz`` file (errors name file and line)."""
    return [obj for _, obj in read_json_objects(path)]


def require(row: dict[str, Any], keys: Iterable[str], where: str) -> None:
    """Raise ValueError naming ``where`` and the first missing key."""
    for key in keys:
        if key not in row:
            raise ValueError(f"{where}: missing key {key!r}")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON Lines (UTF-8); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n
