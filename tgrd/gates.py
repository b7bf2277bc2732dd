"""Deterministic tool gates: structural failures caught for free, each with a reason code.

TGRD step 1 (DESIGN.md §1): a record failing a gate gets label 0 and never reaches the teacher.
Three gates, applied in this order (the first failure is the reason):

(a) schema — non-empty messages, only known roles, at least one user turn, ends with an
    assistant turn, a system message only first, sane alternation (user and assistant alternate;
    tool results follow an assistant tool call), no blank earlier turns.
(b) empty — the final assistant response has fewer than ``min_response_chars`` characters once
    whitespace and markup (HTML-like tags, markdown punctuation) are stripped.
(c) repetition — Gopher-style statistics of the final response (Rae et al. 2021, App. A;
    thresholds as in DataTrove's GopherRepetitionFilter): duplicate-line fraction and
    duplicate-line character fraction; top 2/3/4-gram character coverage; duplicated 5..10-gram
    character fraction. Definitions used here (shared by the vectorised kernel and the
    per-record reference so they agree exactly):

    * sizes are UTF-8 bytes (identical to characters for ASCII; taken from Arrow offsets for
      free, where counting code points would cost a pass over the text).
    * lines: split on "\\n", trimmed, empty lines dropped; a duplicate is any non-first
      occurrence; fractions are over the line count and over the text size.
    * words: split on whitespace. An n-gram's size = sum of its word sizes + (n-1).
    * top n-gram: the most frequent n-gram occurring at least twice; coverage =
      count × size / text size.
    * duplicated n-grams: word positions covered by a non-first occurrence of any repeated
      n-gram; fraction = covered word bytes / text size.
    Responses with fewer than ``repetition_min_words`` words skip (c).

The kernel :func:`gate_table` is vectorised over an Arrow table (columns ``messages`` as
list<struct<role, content>>): Arrow compute splits and hashes the text, numpy does the rest, and
n-gram work is pruned to positions that can possibly repeat. :func:`gate_record` is the
straightforward per-record implementation, kept as the reference for tests and the benchmark.
:func:`gate_dataset` runs the kernel as a Ray Data actor pool.

    python bench/bench_gates.py          # kernel vs per-record, and the Ray stage wall time
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tgrd.config import GateConfig
from tgrd.records import CANONICAL_ROLES

PASS = ""
SCHEMA_NO_MESSAGES = "schema_no_messages"
SCHEMA_UNKNOWN_ROLE = "schema_unknown_role"
SCHEMA_NO_USER_TURN = "schema_no_user_turn"
SCHEMA_NOT_ENDING_WITH_ASSISTANT = "schema_not_ending_with_assistant"
SCHEMA_MISPLACED_SYSTEM = "schema_misplaced_system"
SCHEMA_BAD_ALTERNATION = "schema_bad_alternation"
SCHEMA_EMPTY_TURN = "schema_empty_turn"
EMPTY_RESPONSE = "empty_response"
TOO_SHORT_RESPONSE = "too_short_response"
DUP_LINE_FRAC = "repetition_dup_line_frac"
DUP_LINE_CHAR_FRAC = "repetition_dup_line_char_frac"


def top_ngram_reason(n: int) -> str:
    return f"repetition_top_{n}gram"


def dup_ngram_reason(n: int) -> str:
    return f"repetition_dup_{n}gram"


# Markup stripped before the emptiness check: HTML-like tags and markdown punctuation.
MARKUP_PATTERN = r"<[^<>\n]{0,200}>|[\s`*_#~=|>\-]+"
_MARKUP_RE = re.compile(MARKUP_PATTERN)

SYSTEM, USER, ASSISTANT, TOOL = (
    CANONICAL_ROLES.index(r) for r in ("system", "user", "assistant", "tool")
)
# Allowed (previous role, current role) transitions after the optional leading system message.
_ALLOWED = np.zeros((4, 4), dtype=bool)
_ALLOWED[USER, ASSISTANT] = True
_ALLOWED[ASSISTANT, USER] = True
_ALLOWED[ASSISTANT, TOOL] = True
_ALLOWED[TOOL, TOOL] = True
_ALLOWED[TOOL, ASSISTANT] = True

# Odd 64-bit multipliers for rolling n-gram hashes (uint64 arithmetic wraps mod 2**64).
_NGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)
_DOC_MULT = np.uint64(0xC2B2AE3D27D4EB4F)


# --------------------------------------------------------------------------------------------
# Per-record reference implementation (readable, slow): the definition of every gate.
# --------------------------------------------------------------------------------------------


def gate_schema(messages: list[dict[str, Any]] | None) -> str:
    """Reason code of the schema gate for one conversation ('' when it passes)."""
    if not messages:
        return SCHEMA_NO_MESSAGES
    roles = [m.get("role") for m in messages]
    if any(r not in CANONICAL_ROLES for r in roles):
        return SCHEMA_UNKNOWN_ROLE
    if "user" not in roles:
        return SCHEMA_NO_USER_TURN
    if roles[-1] != "assistant":
        return SCHEMA_NOT_ENDING_WITH_ASSISTANT
    if "system" in roles[1:]:
        return SCHEMA_MISPLACED_SYSTEM
    body = (
        [CANONICAL_ROLES.index(r) for r in roles[1:]]
        if roles[0] == "system"
        else [CANONICAL_ROLES.index(r) for r in roles]
    )
    if body[0] != USER or any(not _ALLOWED[a, b] for a, b in zip(body, body[1:])):
        return SCHEMA_BAD_ALTERNATION
    if any(
        not (m.get("content") or "").strip() for m in messages[:-1] if m.get("role") != "system"
    ):
        return SCHEMA_EMPTY_TURN
    return PASS


def gate_empty(response: str, min_chars: int) -> str:
    """Reason code of the empty/too-short gate for one response."""
    kept = len(_MARKUP_RE.sub("", response))
    if kept == 0 and min_chars > 0:
        return EMPTY_RESPONSE
    if kept < min_chars:
        return TOO_SHORT_RESPONSE
    return PASS


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _dup_covered_chars(words: list[str], n: int) -> int:
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for k in range(len(words) - n + 1):
        gram = tuple(words[k : k + n])
        if gram in seen:
            covered[k : k + n] = [True] * n
        else:
            seen.add(gram)
    return sum(_nbytes(w) for w, c in zip(words, covered) if c)


def gate_repetition(response: str, cfg: GateConfig) -> str:
    """Reason code of the Gopher-style repetition gate for one response."""
    words = response.split()
    if len(words) < cfg.repetition_min_words:
        return PASS
    text_len = _nbytes(response)
    lines = [ln.strip() for ln in response.split("\n")]
    lines = [ln for ln in lines if ln]
    if lines:
        seen, dup_lines, dup_chars = set(), 0, 0
        for ln in lines:
            if ln in seen:
                dup_lines += 1
                dup_chars += _nbytes(ln)
            seen.add(ln)
        if dup_lines / len(lines) > cfg.dup_line_frac:
            return DUP_LINE_FRAC
        if dup_chars / text_len > cfg.dup_line_char_frac:
            return DUP_LINE_CHAR_FRAC
    for n, frac in sorted(cfg.top_ngram_char_frac.items()):
        grams = Counter(tuple(words[k : k + n]) for k in range(len(words) - n + 1))
        if not grams:
            continue
        best = max(
            (c * (sum(map(_nbytes, g)) + n - 1) for g, c in grams.items() if c >= 2), default=0
        )
        if best / text_len > frac:
            return top_ngram_reason(n)
    for n, frac in sorted(cfg.dup_ngram_char_frac.items()):
        if _dup_covered_chars(words, n) / text_len > frac:
            return dup_ngram_reason(n)
    return PASS


def final_response(messages: list[dict[str, Any]] | None) -> str:
    if messages and messages[-1].get("role") == "assistant":
        return messages[-1].get("content") or ""
    return ""


def gate_record(messages: list[dict[str, Any]] | None, cfg: GateConfig) -> str:
    """All gates on one conversation; the first failing reason code, '' when it passes."""
    return (
        gate_schema(messages)
        or gate_empty(final_response(messages), cfg.min_response_chars)
        or gate_repetition(final_response(messages), cfg)
    )


# --------------------------------------------------------------------------------------------
# Vectorised kernel over Arrow batches.
# --------------------------------------------------------------------------------------------


def _segment_ids(lengths: np.ndarray) -> np.ndarray:
    """Owner index of every flattened element: lengths [2, 0, 3] → [0, 0, 2, 2, 2]."""
    return np.repeat(np.arange(len(lengths)), lengths)


def _first_occurrence(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_first, count) per element of an integer key array.

    A stable argsort keeps equal keys in input order, so the head of each run of equal keys is
    its first occurrence. Keys built as ``doc * V + word`` are sorted by document already, which
    the stable (tim/radix) sort exploits: far faster here than a hash table with ~1M entries.
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    run_head = np.empty(len(keys), dtype=bool)
    run_head[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=run_head[1:])
    run_id = np.cumsum(run_head) - 1
    count = np.empty(len(keys), dtype=np.int64)
    count[order] = np.bincount(run_id)[run_id]
    is_first = np.empty(len(keys), dtype=bool)
    is_first[order] = run_head
    return is_first, count


def _schema_reasons(msgs: pa.ListArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Schema reason per row (object array, '' = pass), flattened contents and last index."""
    n_rows = len(msgs)
    lengths = pc.fill_null(pc.list_value_length(msgs), 0).to_numpy().astype(np.int64)
    flat = pc.list_flatten(msgs)
    roles = pc.struct_field(flat, "role")
    contents = pc.fill_null(pc.struct_field(flat, "content"), "")
    codes = pc.fill_null(pc.index_in(roles, value_set=pa.array(CANONICAL_ROLES)), -1)
    codes = codes.to_numpy().astype(np.int64)
    owner = _segment_ids(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(len(codes)) - starts[owner]
    last_idx = starts + lengths - 1

    reasons = np.full(n_rows, PASS, dtype=object)

    def flag(mask_rows: np.ndarray, code: str) -> None:
        reasons[mask_rows & (reasons == PASS)] = code

    flag(lengths == 0, SCHEMA_NO_MESSAGES)
    flag(np.bincount(owner, weights=codes < 0, minlength=n_rows) > 0, SCHEMA_UNKNOWN_ROLE)
    flag(np.bincount(owner, weights=codes == USER, minlength=n_rows) == 0, SCHEMA_NO_USER_TURN)
    has = lengths > 0
    last_code = np.full(n_rows, -1)
    last_code[has] = codes[last_idx[has]]
    flag(last_code != ASSISTANT, SCHEMA_NOT_ENDING_WITH_ASSISTANT)
    flag(
        np.bincount(owner, weights=(codes == SYSTEM) & (pos > 0), minlength=n_rows) > 0,
        SCHEMA_MISPLACED_SYSTEM,
    )
    # Alternation: the first non-system message is a user turn; later pairs are allowed moves.
    first_is_system = np.zeros(n_rows, dtype=bool)
    first_is_system[has] = codes[starts[has]] == SYSTEM
    body_start = starts + first_is_system
    first_code = np.full(n_rows, -1)
    ok_start = body_start < starts + lengths
    first_code[ok_start] = codes[body_start[ok_start]]
    bad = np.zeros(len(codes), dtype=bool)
    if len(codes) > 1:
        prev, cur = codes[:-1], codes[1:]
        pair_ok = _ALLOWED[np.clip(prev, 0, 3), np.clip(cur, 0, 3)]
        inside_body = (pos[1:] > 0) & (np.arange(1, len(codes)) > body_start[owner[1:]])
        bad[1:] = inside_body & ~pair_ok
    flag(
        (first_code != USER) | (np.bincount(owner, weights=bad, minlength=n_rows) > 0),
        SCHEMA_BAD_ALTERNATION,
    )
    # Blank earlier turns: only short contents can be blank, so trim just those.
    is_last = np.zeros(len(codes), dtype=bool)
    is_last[last_idx[has]] = True
    short = np.flatnonzero(
        (pc.binary_length(contents).to_numpy() <= 64) & ~is_last & (codes != SYSTEM)
    )
    if len(short):
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(contents.take(short))), 0).to_numpy(
            zero_copy_only=False
        )
        flag(np.bincount(owner[short[blank]], minlength=n_rows) > 0, SCHEMA_EMPTY_TURN)
    return reasons, contents, np.where(has & (last_code == ASSISTANT), last_idx, -1)


def _word_count_upper_bound(wid: np.ndarray, owner: np.ndarray, n_words: np.ndarray) -> np.ndarray:
    """Per position, an upper bound of how often its word occurs in its document.

    Exact per-document counts need a sort of every word (the most expensive step). Pruning only
    needs an upper bound, so count (document, hash slot) pairs in a small per-document hash
    table with one ``bincount``: a collision can only raise a count, never lower it, and every
    surviving candidate is checked exactly afterwards.
    """
    # ~2 slots per word of a typical response keeps the table (rows × slots) small enough to
    # stay in cache; collisions only weaken pruning a little.
    slots = 1 << int(max(np.median(n_words), 16) * 2).bit_length()
    slot = ((wid.astype(np.uint64) * _NGRAM_MULT) >> np.uint64(40)).astype(np.int64) & (slots - 1)
    key = owner * slots + slot
    return np.bincount(key, minlength=len(n_words) * slots)[key]


def _window_min(values: np.ndarray, n: int) -> np.ndarray:
    out = values[: len(values) - n + 1].copy()
    for j in range(1, n):
        np.minimum(out, values[j : len(values) - n + 1 + j], out=out)
    return out


def _fits(remaining: np.ndarray, n: int) -> np.ndarray:
    """Mask over start positions 0..N-n: the n-gram stays inside its own document."""
    return remaining[: max(len(remaining) - n + 1, 0)] >= n


def _ngram_hashes(wid: np.ndarray, owner: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    """Rolling 64-bit hash of the n-grams starting at ``k``, mixed with their document id."""
    h = np.zeros(len(k), dtype=np.uint64)
    for j in range(n):
        h = h * _NGRAM_MULT + wid[k + j].astype(np.uint64)
    return h ^ (owner[k].astype(np.uint64) * _DOC_MULT)


def _repetition_reasons(responses: pa.Array, cfg: GateConfig) -> np.ndarray:
    n_rows = len(responses)
    reasons = np.full(n_rows, PASS, dtype=object)
    text_len = pc.binary_length(responses).to_numpy().astype(np.float64)
    words_list = pc.utf8_split_whitespace(responses)
    n_words = pc.list_value_length(words_list).to_numpy().astype(np.int64)
    eligible = n_words >= cfg.repetition_min_words
    if not eligible.any():
        return reasons

    def flag(rows: np.ndarray, code: str) -> None:
        mask = np.zeros(n_rows, dtype=bool)
        mask[rows] = True
        reasons[mask & eligible & (reasons == PASS)] = code

    # Duplicate lines.
    lines_list = pc.split_pattern(responses, "\n")
    line_lengths = pc.list_value_length(lines_list).to_numpy().astype(np.int64)
    lines = pc.utf8_trim_whitespace(pc.list_flatten(lines_list))
    line_owner = _segment_ids(line_lengths)
    line_len = pc.binary_length(lines).to_numpy().astype(np.int64)
    keep = line_len > 0
    lines, line_owner, line_len = lines.filter(pa.array(keep)), line_owner[keep], line_len[keep]
    line_id = pc.dictionary_encode(lines).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    is_first, _ = _first_occurrence(line_owner * (int(line_id.max(initial=0)) + 1) + line_id)
    n_lines = np.bincount(line_owner, minlength=n_rows)
    dup_lines = np.bincount(line_owner, weights=~is_first, minlength=n_rows)
    dup_line_chars = np.bincount(line_owner, weights=line_len * ~is_first, minlength=n_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        flag(np.flatnonzero(dup_lines / np.maximum(n_lines, 1) > cfg.dup_line_frac), DUP_LINE_FRAC)
        flag(
            np.flatnonzero(dup_line_chars / np.maximum(text_len, 1) > cfg.dup_line_char_frac),
            DUP_LINE_CHAR_FRAC,
        )

    # Words: batch-global ids, per-document counts.
    flat_words = pc.list_flatten(words_list)
    owner = _segment_ids(n_words)
    word_len = pc.binary_length(flat_words).to_numpy().astype(np.int64)
    wid = pc.dictionary_encode(flat_words).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    word_count = _word_count_upper_bound(wid, owner, n_words)
    cum_len = np.concatenate([[0], np.cumsum(word_len)])
    # Words left in the document from each position (inclusive): an n-gram fits iff >= n.
    remaining = np.repeat(np.cumsum(n_words), n_words) - np.arange(len(wid))

    for n, frac in sorted(cfg.top_ngram_char_frac.items()):
        # An n-gram occurs at most as often as its rarest word: prune positions that cannot
        # reach the threshold even at that upper bound, and hash only the rest.
        fits = _fits(remaining, n)
        if not fits.any():
            continue
        bound = _window_min(word_count, n)
        k = np.flatnonzero(fits & (bound >= 2))
        gram_chars = cum_len[k + n] - cum_len[k] + (n - 1)
        cand = bound[k] * gram_chars > frac * text_len[owner[k]]
        if not cand.any():
            continue
        k, gram_chars = k[cand], gram_chars[cand]
        _, count = _first_occurrence(_ngram_hashes(wid, owner, k, n))
        over = (count >= 2) & (count * gram_chars > frac * text_len[owner[k]])
        flag(np.unique(owner[k[over]]), top_ngram_reason(n))

    dup_ns = sorted(cfg.dup_ngram_char_frac.items())
    if dup_ns and len(wid) >= dup_ns[0][0]:
        # A repeated n-gram is made of repeated words, and (for n ≥ m) its leading m-gram repeats
        # too: candidates shrink as n grows, so higher n costs almost nothing.
        base = word_count >= 2
        for i, (n, frac) in enumerate(dup_ns):
            sel = _fits(remaining, n) & base[: max(len(base) - n + 1, 0)]
            if i == 0:
                sel &= _window_min(word_count, n) >= 2
            k = np.flatnonzero(sel)
            if len(k) == 0:
                break
            is_first, count = _first_occurrence(_ngram_hashes(wid, owner, k, n))
            repeated_k = k[count >= 2]
            base = np.zeros(len(wid), dtype=bool)
            base[repeated_k] = True  # next n: only positions whose n-gram repeats
            later = k[~is_first]
            if len(later) == 0:
                continue
            # Word positions covered by [later, later + n): few repeats (the usual case) are
            # expanded directly; many use a difference array over the whole batch.
            if len(later) * n < len(wid) // 4:
                covered = np.unique((later[:, None] + np.arange(n)).ravel())
            else:
                diff = np.bincount(later, minlength=len(wid) + n) - np.bincount(
                    later + n, minlength=len(wid) + n
                )
                covered = np.flatnonzero(np.cumsum(diff[: len(wid)]) > 0)

            dup_chars = np.bincount(owner[covered], weights=word_len[covered], minlength=n_rows)
            flag(np.flatnonzero(dup_chars / np.maximum(text_len, 1) > frac), dup_ngram_reason(n))
    return reasons


def _kept_chars(responses: pa.Array, min_chars: int) -> np.ndarray:
    """Characters left after stripping markup, exact where it can decide the gate.

    The full regex is slow (~40 MB/s in Arrow's RE2). With ``min_chars <= 1`` only "is anything
    left" matters: trimming markup characters from both ends answers that exactly unless the
    trimmed text starts with a tag, so the regex runs on those rows alone.
    """
    if min_chars > 1:
        return pc.utf8_length(pc.replace_substring_regex(responses, MARKUP_PATTERN, "")).to_numpy()
    trimmed = pc.utf8_trim(responses, characters=" \t\n\r\f\v`*_#~=|>-")
    kept = pc.utf8_length(trimmed).to_numpy().astype(np.int64)
    tagged = np.flatnonzero(pc.starts_with(trimmed, "<").to_numpy(zero_copy_only=False))
    if len(tagged):
        exact = pc.replace_substring_regex(responses.take(pa.array(tagged)), MARKUP_PATTERN, "")
        kept[tagged] = pc.utf8_length(exact).to_numpy()
    return kept


def gate_table(table: pa.Table | pa.RecordBatch, cfg: GateConfig) -> pa.Table:
    """Vectorised gates over a batch; returns the input plus ``gate_pass`` and ``gate_reason``.

    Args:
        table: rows with a ``messages`` column (list<struct<role: string, content: string>>).
        cfg: gate thresholds.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    msgs = table.column("messages").combine_chunks()
    reasons, contents, last_idx = _schema_reasons(msgs)
    has_resp = last_idx >= 0
    responses = (
        pa.array([""] * len(table))
        if not len(contents)
        else pc.if_else(pa.array(has_resp), contents.take(pa.array(np.maximum(last_idx, 0))), "")
    )
    kept = _kept_chars(responses, cfg.min_response_chars)
    if cfg.min_response_chars > 0:
        reasons[(kept == 0) & (reasons == PASS)] = EMPTY_RESPONSE
    reasons[(kept < cfg.min_response_chars) & (reasons == PASS)] = TOO_SHORT_RESPONSE
    pending = np.flatnonzero(reasons == PASS)
    if len(pending):
        rep = _repetition_reasons(responses.take(pa.array(pending)), cfg)
        reasons[pending] = rep
    reason_arr = pa.array(reasons.tolist(), type=pa.string())
    table = table.append_column("gate_pass", pc.equal(reason_arr, PASS))
    return table.append_column("gate_reason", reason_arr)


class GateActor:
    """Ray Data actor: holds the thresholds, applies :func:`gate_table` to each batch."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = GateConfig.model_validate(cfg)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return gate_table(batch, self.cfg)


def gate_dataset(ds, cfg: GateConfig):
    """Apply the gates to a Ray Dataset of canonical records as an actor pool (lazy)."""
    import ray.data

    return ds.map_batches(
        GateActor,
        fn_constructor_kwargs={"cfg": cfg.model_dump()},
        batch_format="pyarrow",
        batch_size=cfg.batch_size,
        compute=ray.data.ActorPoolStrategy(size=cfg.actors),
        num_cpus=cfg.actor_num_cpus,
    )
