"""The canonical instance record (DESIGN.md §7) and conversion of the shapes users bring.

Canonical record::

    {"id": str, "messages": [{"role": "system"|"user"|"assistant"|"tool", "content": str}, ...],
     "task": str | None, "meta": dict}

Accepted input shapes, detected per row:

- canonical: ``messages`` (OpenAI chat); ``id``, ``task``, ``meta`` optional.
- Alpaca: ``instruction`` (+ optional ``input``, ``system``, ``history``) and ``output``.
- ShareGPT: ``conversations`` of ``{from, value}``; roles ``human``/``user`` → user,
  ``gpt``/``assistant``/``function_call`` → assistant (a tool call is an assistant turn),
  ``observation``/``tool``/``function`` → tool, ``system`` → system. A top-level ``system`` becomes
  the first message; a preference row's ``chosen`` reply is appended as the final assistant turn
  (``rejected`` is kept in ``meta``); ``tools`` is kept in ``meta``.
- pairs: ``prompt``/``question``/``query`` with ``response``/``completion``/``answer``/``output``.
- OpenAssistant message trees (``message_tree_id`` + ``prompt`` tree): flattened into one
  conversation per root-to-leaf path, cut after its last assistant message.

A row that cannot be converted raises :class:`RecordError` with a reason code; ingest turns that
into a quarantine row. Missing ids become a stable content hash of the messages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

CANONICAL_ROLES = ("system", "user", "assistant", "tool")

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
    "system": "system",
}

OASST_ROLES = {"prompter": "user", "assistant": "assistant"}

PAIR_PROMPT_KEYS = ("prompt", "question", "query")
PAIR_RESPONSE_KEYS = ("response", "completion", "answer", "output", "chosen")

# Reason codes for rows that cannot become records (counted in summaries).
REASON_INVALID_JSON = "invalid_json"
REASON_INVALID_UTF8 = "invalid_utf8"
REASON_NOT_OBJECT = "not_an_object"
REASON_MISSING_FIELD = "missing_field"
REASON_ILL_TYPED = "ill_typed_field"
REASON_UNKNOWN_ROLE = "unknown_role"
REASON_UNKNOWN_SHAPE = "unknown_shape"
REASON_TOO_LARGE = "row_too_large"
REASON_UNREADABLE_FILE = "unreadable_file"
REASON_DUPLICATE_ID = "duplicate_id"


class RecordError(ValueError):
    """A row that cannot become a canonical record. ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def content_hash(messages: list[dict[str, str]]) -> str:
    """Stable id for a conversation: sha256 of its canonical JSON, first 16 hex chars.

    Stable across processes and machines (unlike ``hash()``), so a re-ingested file gets the
    same ids and caches keyed on them stay valid.
    """
    canonical = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _require_str(row: dict[str, Any], key: str, *, allow_missing: bool = False) -> str | None:
    if key not in row or row[key] is None:
        if allow_missing:
            return None
        raise RecordError(REASON_MISSING_FIELD, f"field {key!r} is missing")
    value = row[key]
    if not isinstance(value, str):
        raise RecordError(
            REASON_ILL_TYPED, f"field {key!r} must be a string, got {type(value).__name__}"
        )
    return value


def _message(role: Any, content: Any, where: str) -> dict[str, str]:
    if not isinstance(role, str):
        raise RecordError(
            REASON_ILL_TYPED, f"{where}.role must be a string, got {type(role).__name__}"
        )
    if role not in CANONICAL_ROLES:
        raise RecordError(
            REASON_UNKNOWN_ROLE, f"{where}.role {role!r} is not one of {CANONICAL_ROLES}"
        )
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise RecordError(
            REASON_ILL_TYPED, f"{where}.content must be a string, got {type(content).__name__}"
        )
    return {"role": role, "content": content}


def _from_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    msgs = row["messages"]
    if not isinstance(msgs, list):
        raise RecordError(
            REASON_ILL_TYPED, f"field 'messages' must be a list, got {type(msgs).__name__}"
        )
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise RecordError(REASON_ILL_TYPED, f"messages[{i}] must be an object")
        if "role" not in m:
            raise RecordError(REASON_MISSING_FIELD, f"messages[{i}].role is missing")
        if "content" not in m:
            raise RecordError(REASON_MISSING_FIELD, f"messages[{i}].content is missing")
        out.append(_message(m["role"], m["content"], f"messages[{i}]"))
    return out


def _sharegpt_turn(turn: Any, where: str) -> dict[str, str]:
    if not isinstance(turn, dict):
        raise RecordError(REASON_ILL_TYPED, f"{where} must be an object")
    speaker = turn.get("from", turn.get("role"))
    if speaker is None:
        raise RecordError(REASON_MISSING_FIELD, f"{where}.from is missing")
    if not isinstance(speaker, str):
        raise RecordError(REASON_ILL_TYPED, f"{where}.from must be a string")
    if speaker.lower() not in SHAREGPT_ROLES:
        raise RecordError(
            REASON_UNKNOWN_ROLE, f"{where}.from {speaker!r} is not a known ShareGPT role"
        )
    value = turn.get("value", turn.get("content"))
    if value is None and "value" not in turn and "content" not in turn:
        raise RecordError(REASON_MISSING_FIELD, f"{where}.value is missing")
    return _message(SHAREGPT_ROLES[speaker.lower()], value, where)


def _from_sharegpt(row: dict[str, Any], meta: dict[str, Any]) -> list[dict[str, str]]:
    conv = row["conversations"]
    if not isinstance(conv, list):
        raise RecordError(REASON_ILL_TYPED, "field 'conversations' must be a list")
    msgs = []
    system = _require_str(row, "system", allow_missing=True)
    if system:
        msgs.append({"role": "system", "content": system})
    msgs += [_sharegpt_turn(t, f"conversations[{i}]") for i, t in enumerate(conv)]
    if "chosen" in row:  # preference data (LLaMA-Factory DPO layout): keep the chosen reply
        msgs.append(_sharegpt_turn(row["chosen"], "chosen"))
        if "rejected" in row:
            meta["rejected"] = row["rejected"]
    if "tools" in row:
        meta["tools"] = row["tools"]
    return msgs


def _from_alpaca(row: dict[str, Any]) -> list[dict[str, str]]:
    instruction = _require_str(row, "instruction")
    extra = _require_str(row, "input", allow_missing=True) or ""
    output = _require_str(row, "output")
    msgs = []
    system = _require_str(row, "system", allow_missing=True)
    if system:
        msgs.append({"role": "system", "content": system})
    history = row.get("history") or []
    if not isinstance(history, list):
        raise RecordError(REASON_ILL_TYPED, "field 'history' must be a list of [prompt, response]")
    for i, pair in enumerate(history):
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise RecordError(REASON_ILL_TYPED, f"history[{i}] must be a [prompt, response] pair")
        msgs.append(_message("user", pair[0], f"history[{i}][0]"))
        msgs.append(_message("assistant", pair[1], f"history[{i}][1]"))
    user = instruction if not extra else f"{instruction}\n\n{extra}"
    msgs.append({"role": "user", "content": user})
    msgs.append({"role": "assistant", "content": output})
    return msgs


def _from_pair(row: dict[str, Any]) -> list[dict[str, str]]:
    pkey = next(k for k in PAIR_PROMPT_KEYS if k in row)
    rkey = next((k for k in PAIR_RESPONSE_KEYS if k in row), None)
    if rkey is None:
        raise RecordError(
            REASON_MISSING_FIELD,
            f"prompt field {pkey!r} has no response field {PAIR_RESPONSE_KEYS}",
        )
    return [
        {"role": "user", "content": _require_str(row, pkey)},
        {"role": "assistant", "content": _require_str(row, rkey)},
    ]


def _oasst_paths(
    node: dict[str, Any], prefix: list[dict[str, Any]]
) -> Iterator[list[dict[str, Any]]]:
    path = prefix + [node]
    replies = [r for r in node.get("replies") or [] if not r.get("deleted")]
    if not replies:
        yield path
    for reply in replies:
        yield from _oasst_paths(reply, path)


def _from_oasst_tree(row: dict[str, Any], meta: dict[str, Any]) -> list[dict[str, Any]]:
    root = row["prompt"]
    if not isinstance(root, dict):
        raise RecordError(
            REASON_ILL_TYPED, "OpenAssistant tree: field 'prompt' must be a message object"
        )
    out, seen = [], set()
    for path in _oasst_paths(root, []):
        while path and path[-1].get("role") != "assistant":  # end on an assistant reply
            path = path[:-1]
        if not path:
            continue
        msgs = []
        for depth, node in enumerate(path):
            role = node.get("role")
            if role not in OASST_ROLES:
                raise RecordError(REASON_UNKNOWN_ROLE, f"tree node at depth {depth}: role {role!r}")
            msgs.append(_message(OASST_ROLES[role], node.get("text"), f"tree depth {depth}"))
        key = node["message_id"] if "message_id" in node else content_hash(msgs)
        if key in seen:
            continue
        seen.add(key)
        leaf_meta = dict(
            meta,
            message_tree_id=row["message_tree_id"],
            leaf_message_id=path[-1].get("message_id"),
            leaf_rank=path[-1].get("rank"),
            synthetic=any(bool(n.get("synthetic")) for n in path),
        )
        out.append({"id": path[-1].get("message_id"), "messages": msgs, "meta": leaf_meta})
    if not out:
        raise RecordError(REASON_MISSING_FIELD, "OpenAssistant tree has no assistant reply")
    return out


def detect_shape(row: dict[str, Any]) -> str:
    """Name of the input shape of ``row``: messages, sharegpt, alpaca, pair, oasst_tree."""
    if "messages" in row:
        return "messages"
    if "conversations" in row:
        return "sharegpt"
    if "message_tree_id" in row and "prompt" in row:
        return "oasst_tree"
    if "instruction" in row:
        return "alpaca"
    if any(k in row for k in PAIR_PROMPT_KEYS):
        return "pair"
    raise RecordError(REASON_UNKNOWN_SHAPE, f"no known record shape for keys {sorted(row)[:12]}")


def to_canonical(row: Any, default_task: str | None = None) -> list[dict[str, Any]]:
    """Convert one parsed input row into one or more canonical records.

    Returns a list because a message tree yields several conversations; every other shape yields
    exactly one. Raises :class:`RecordError` when the row cannot be converted.
    """
    if not isinstance(row, dict):
        raise RecordError(
            REASON_NOT_OBJECT, f"row is a JSON {type(row).__name__}, expected an object"
        )
    meta = row.get("meta") or {}
    if not isinstance(meta, dict):
        raise RecordError(REASON_ILL_TYPED, "field 'meta' must be an object")
    meta = dict(meta)
    task = row.get("task", default_task)
    if task is not None and not isinstance(task, str):
        raise RecordError(REASON_ILL_TYPED, "field 'task' must be a string")
    rid = row.get("id")
    if rid is not None and not isinstance(rid, str | int):
        raise RecordError(REASON_ILL_TYPED, "field 'id' must be a string")
    shape = detect_shape(row)
    if shape == "oasst_tree":
        records = _from_oasst_tree(row, meta)
    else:
        if shape == "messages":
            msgs = _from_messages(row)
        elif shape == "sharegpt":
            msgs = _from_sharegpt(row, meta)
        elif shape == "alpaca":
            msgs = _from_alpaca(row)
        else:
            msgs = _from_pair(row)
        records = [{"id": None if rid is None else str(rid), "messages": msgs, "meta": meta}]
    for rec in records:
        if rec["id"] is None:
            rec["id"] = content_hash(rec["messages"])
        rec["task"] = task
        rec["meta"]["source_shape"] = shape
    return records
