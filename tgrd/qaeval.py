"""Numeric answer extraction and accuracy with tolerance, for the finqa task and real QA sets.

    from tgrd.qaeval import extract_answer, numbers_match, score_item
    extract_answer("16 - 3 - 4 = 9 eggs\\n#### 9")        # 9.0
    extract_answer("Net loss was (1,234) thousand.")      # -1234.0
    numbers_match(42.91, 42.9, abs_tol=0.01, rel_tol=0.0) # False
    score_item({"answer": 5, "tolerance": {"abs": 0.01, "rel": 0.001}}, "7-2=5")  # True

Where the answer is: after the last GSM8K ``#### N`` marker, else after the last ``A:`` /
``Answer:`` / ``answer is`` marker (the first number following it), else the last number in the
text. GSM8K calculator annotations ``<<a*b=c>>`` are removed first. A number may carry a currency
sign, thousands separators, a leading minus (not one that follows a digit: ``7-3`` is a
subtraction, ``2023-03-01`` a date), accounting parentheses ``(1,234)`` for negatives, a percent
sign, and a scale word (thousand, million, billion; k, m, bn) that :func:`parse_number` reports
separately so the caller decides whether it applies (TAT-QA states the scale beside the answer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SCALES = {
    "": 1.0,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "b": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
    "percent": 1.0,
}

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_CUR = r"(?:[$€£¥]|USD|EUR|GBP|RMB)"
_SCALE = r"(?:thousand|million|billion|trillion|bn|mn|k|m|b)\b"
_TOKEN = re.compile(
    rf"(?P<paren>\(\s*{_CUR}?\s*(?P<pnum>{_NUM})\s*\))"
    rf"|(?:(?<![\w\).])(?P<sign>[-−–])\s?)?{_CUR}?\s?(?:(?<![\w\)])(?P<sign2>[-−]))?(?P<num>{_NUM})"
    rf"(?P<pct>\s?%|\s?percent\b)?(?P<scale>\s?{_SCALE})?",
    re.IGNORECASE,
)
_CALC = re.compile(r"<<[^>]*>>")
_HASH_MARK = re.compile(r"####")
_ANSWER_MARK = re.compile(r"(?:^|\n)\s*A:|answer\s*(?:is|:|=)", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedNumber:
    """A number found in text: its value as written, and the decorations around it."""

    value: float
    percent: bool = False
    scale: str = ""  # normalised scale word, "" when none

    def scaled(self) -> float:
        """The value multiplied by its scale word (``1.2 million`` → 1.2e6)."""
        return self.value * SCALES[self.scale]


def _from_match(m: re.Match[str]) -> ParsedNumber:
    if m.group("paren"):
        return ParsedNumber(-float(m.group("pnum").replace(",", "")))
    value = float(m.group("num").replace(",", ""))
    if m.group("sign") or m.group("sign2"):
        value = -value
    scale = (m.group("scale") or "").strip().lower()
    return ParsedNumber(value, percent=bool(m.group("pct")), scale=scale)


def find_numbers(text: str) -> list[ParsedNumber]:
    """Every number in ``text``, in order (calculator annotations removed)."""
    return [_from_match(m) for m in _TOKEN.finditer(_CALC.sub("", text))]


def parse_number(text: str | int | float) -> ParsedNumber | None:
    """Parse a gold answer or a short string holding one number; None when there is none."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return None if math.isnan(text) else ParsedNumber(float(text))
    nums = find_numbers(str(text))
    return nums[0] if nums else None


def extract_parsed(response: str) -> ParsedNumber | None:
    """The final answer of a free-text response (see the module docstring for where it looks)."""
    text = _CALC.sub("", response or "")
    marks = list(_HASH_MARK.finditer(text)) or list(_ANSWER_MARK.finditer(text))
    if marks:
        tail = find_numbers(text[marks[-1].end() :])
        if tail:
            return tail[0]
    nums = find_numbers(text)
    return nums[-1] if nums else None


def extract_answer(response: str) -> float | None:
    """The final number of a response as a float (scale words not applied); None if none."""
    parsed = extract_parsed(response)
    return None if parsed is None else parsed.value


def numbers_match(
    pred: float | None, gold: float, abs_tol: float = 0.0, rel_tol: float = 0.0
) -> bool:
    """``|pred - gold| <= abs_tol + rel_tol * |gold|``; a missing prediction never matches."""
    if pred is None or math.isnan(pred):
        return False
    return abs(pred - gold) <= abs_tol + rel_tol * abs(gold) + 1e-12


def score_answer(
    response: str,
    gold: float | str,
    abs_tol: float = 0.0,
    rel_tol: float = 0.0,
    gold_scale: str = "",
) -> bool:
    """Whether ``response`` answers ``gold`` within tolerance.

    A scale word in the response counts only when it differs from ``gold_scale``: "1.2 million"
    answers gold 1.2 (scale million) and gold 1,200,000 (no scale) alike.
    """
    pred = extract_parsed(response)
    gold_num = parse_number(gold)
    if pred is None or gold_num is None:
        return False
    gold_scale = gold_scale.lower() if gold_scale.lower() in SCALES else ""
    value = pred.value
    if pred.scale and pred.scale != gold_scale and SCALES[pred.scale] != SCALES[gold_scale]:
        value = pred.scaled() / SCALES[gold_scale]
    return numbers_match(value, gold_num.value, abs_tol, rel_tol)


def _normalise_text(s: str) -> str:
    return re.sub(r"[^a-z0-9.%]+", " ", s.lower()).strip()


def score_item(item: dict[str, Any], response: str) -> bool:
    """Grade one benchmark item (``answer`` and optional ``tolerance`` {abs, rel}, ``scale``).

    Numeric answers use :func:`score_answer`; text answers (TAT-QA spans) a normalised exact
    match; a list of spans must all appear in the response.
    """
    gold = item["answer"]
    tol = item.get("tolerance") or {}
    if isinstance(gold, list):
        norm = _normalise_text(response)
        return bool(gold) and all(_normalise_text(str(g)) in norm for g in gold)
    if isinstance(gold, str) and parse_number(gold) is None:
        return _normalise_text(gold) == _normalise_text(response)
    return score_answer(
        response, gold, tol.get("abs", 0.0), tol.get("rel", 0.0), item.get("scale", "")
    )


def accuracy(items: Iterable[dict[str, Any]], responses: Iterable[str]) -> float:
    """Fraction of items answered correctly by the paired responses."""
    scores = [score_item(it, r) for it, r in zip(items, responses, strict=True)]
    return sum(scores) / len(scores) if scores else 0.0
