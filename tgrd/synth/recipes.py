"""Candidate recipes: how much of each planted category every candidate dataset gets.

    from tgrd.synth.recipes import candidate_recipes, allocate
    mixes = candidate_recipes(8, seed=0)            # the built-in eight
    cats = allocate(mixes[3], 1500, random.Random(0))  # 1500 categories, shuffled

The eight built-in recipes differ on several dimensions at once — share of correct answers,
kind of defect, response length, empty and malformed fractions — so that no single surface
statistic orders them the way quality does (tests/test_synth.py checks Spearman of mean
response length and of empty fraction against the correct fraction is not ±1). Their correct
fractions (clean + terse) are 0.95, 0.45, 0.70, 0.65, 0.50, 0.80, 0.35, 0.60.

Each category maps to a class of the 5-way DataChef-style rubric and of the 3-way rubric the
teacher labels gate-passing instances with (issue 4): structural defects are EMPTY_OR_TRUNCATED,
DEGENERATE or MALFORMED in 5-way; a 3-way judge that sees them anyway calls them INCORRECT.
"""

from __future__ import annotations

import random
import zlib

import numpy as np

from tgrd.synth.settings import CATEGORIES

LABEL5: dict[str, str] = {
    "clean": "PASS",
    "terse": "PASS",
    "incorrect": "INCORRECT",
    "verbose_wrong": "INCORRECT",
    "off_task_other": "TASK_MISMATCH",
    "off_task_chat": "TASK_MISMATCH",
    "empty": "EMPTY_OR_TRUNCATED",
    "truncated": "EMPTY_OR_TRUNCATED",
    "repetition": "DEGENERATE",
    "malformed": "MALFORMED",
}
LABEL3: dict[str, str] = {
    cat: (lab if lab in ("PASS", "INCORRECT", "TASK_MISMATCH") else "INCORRECT")
    for cat, lab in LABEL5.items()
}

_C = CATEGORIES
# Rows: clean, terse, incorrect, verbose_wrong, off_task_other, off_task_chat, empty, truncated,
# repetition, malformed. Comments: the dimension each recipe stresses.
_BUILTIN = np.array(
    [
        [0.85, 0.10, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.05],  # near-clean, a few bad lines
        [
            0.45,
            0.00,
            0.10,
            0.30,
            0.00,
            0.05,
            0.00,
            0.00,
            0.10,
            0.00,
        ],  # long and fluent, often wrong
        [0.70, 0.00, 0.00, 0.00, 0.10, 0.00, 0.15, 0.00, 0.00, 0.05],  # many empties, else good
        [0.30, 0.35, 0.20, 0.00, 0.00, 0.00, 0.00, 0.10, 0.00, 0.05],  # short answers, some wrong
        [0.50, 0.00, 0.05, 0.00, 0.20, 0.20, 0.00, 0.00, 0.05, 0.00],  # off-task heavy
        [0.75, 0.05, 0.05, 0.10, 0.00, 0.00, 0.00, 0.05, 0.00, 0.00],  # mostly right
        [0.25, 0.10, 0.30, 0.05, 0.05, 0.05, 0.10, 0.00, 0.05, 0.05],  # a bit of everything, worst
        [0.55, 0.05, 0.00, 0.00, 0.00, 0.10, 0.05, 0.05, 0.15, 0.05],  # degenerate repetition
    ]
)
BUILTIN_RECIPES: list[dict[str, float]] = [
    {c: float(v) for c, v in zip(_C, row, strict=True) if v > 0} for row in _BUILTIN
]


def stable_seed(*parts: object) -> int:
    """A seed from a stable hash of ``parts`` (crc32; Python's ``hash()`` is salted per process)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode("utf-8"))


def candidate_recipes(
    k: int, seed: int, recipes: list[dict[str, float]] | None = None
) -> list[dict[str, float]]:
    """The mixtures of ``k`` candidates: given ones, else the built-ins, extended by random ones.

    Extra recipes (k > 8) draw a correct fraction uniformly in [0.3, 0.95] and split the rest
    over the defect categories with a Dirichlet(0.5) draw, so their defect profiles are lumpy.
    """
    if recipes is not None:
        if len(recipes) != k:
            raise ValueError(f"synth.recipes has {len(recipes)} mixes, synth.num_candidates is {k}")
        return [dict(r) for r in recipes]
    out = [dict(r) for r in BUILTIN_RECIPES[:k]]
    rng = np.random.default_rng(stable_seed("recipes", seed))
    defects = [c for c in _C if c not in ("clean", "terse")]
    while len(out) < k:
        good = rng.uniform(0.3, 0.95)
        terse = good * rng.uniform(0.0, 0.3)
        split = rng.dirichlet([0.5] * len(defects)) * (1 - good)
        mix = {"clean": good - terse, "terse": terse}
        mix.update({c: float(v) for c, v in zip(defects, split, strict=True)})
        out.append({c: float(v) for c, v in mix.items() if v > 0})
    return out


def allocate(mix: dict[str, float], n: int, rng: random.Random) -> list[str]:
    """Exactly ``n`` categories in proportion ``mix`` (largest remainder), in random order."""
    total = sum(mix.values())
    cats = [c for c in _C if mix.get(c, 0) > 0]
    quotas = [mix[c] / total * n for c in cats]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(cats)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    out = [c for c, m in zip(cats, counts, strict=True) for _ in range(m)]
    rng.shuffle(out)
    return out


def correct_fraction(mix: dict[str, float]) -> float:
    """Share of the mix a perfect judge would PASS (clean + terse)."""
    return (mix.get("clean", 0) + mix.get("terse", 0)) / sum(mix.values())
