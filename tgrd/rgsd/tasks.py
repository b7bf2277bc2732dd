"""Synthetic rubric tasks whose criteria are checkable by rules, and reference responses.

Each prompt asks for advice on a topic. Its rubric always asks to mention the topic's key term
(weight 2) plus a random subset of: a number with the topic's unit, a word limit, a bullet list,
a closing recommendation. The key term and unit are fixed per topic, so a student that never
sees the rubric can still learn them from the prompt, which is what self-distillation must teach.

Two reference responders build the demo's pre-training corpus (a random-init model has no
conditioning gap; the demo gives it one):

- :func:`good_response` meets exactly the criteria of the rubric (what a rubric-aware model says);
- :func:`generic_response` is a plausible answer that meets each criterion only by chance.

    python -c "from tgrd.rgsd.tasks import generate_tasks; print(generate_tasks(3, seed=0)[0])"
"""

from __future__ import annotations

import random
import zlib

from tgrd.rgsd.rubrics import Criterion, RubricTask

# topic → (key term, unit). Terms and units are single words so any tokenizer handles them.
TOPICS: dict[str, tuple[str, str]] = {
    "hiking": ("water", "liters"),
    "baking bread": ("yeast", "grams"),
    "running": ("shoes", "km"),
    "sleep": ("routine", "hours"),
    "making coffee": ("grind", "grams"),
    "cycling": ("helmet", "km"),
    "gardening": ("compost", "liters"),
    "saving money": ("budget", "dollars"),
    "studying": ("breaks", "minutes"),
    "swimming": ("goggles", "meters"),
    "painting a room": ("primer", "liters"),
    "cooking rice": ("rinse", "minutes"),
}
PROMPT_TEMPLATES = (
    "Give advice on {topic}.",
    "How should I approach {topic}?",
    "What matters most for {topic}?",
    "Any tips for {topic}?",
    "Help me get better at {topic}.",
)
WORD_LIMITS = (15, 20, 25)
# Optional criteria and the chance each enters a rubric.
OPTIONAL_P = 0.6

_FILLERS = (
    "{Topic} takes patience.",
    "Many people enjoy {topic}.",
    "It depends on your goals.",
    "Practice helps a lot.",
    "Start slowly and keep going.",
    "Everyone finds their own way.",
    "Try to stay consistent.",
    "Ask a friend for help.",
    "It is easier than it looks.",
    "Small steps add up over time.",
)
_RECOMMENDATIONS = (
    "I recommend starting today.",
    "I recommend a simple plan.",
    "I recommend keeping notes.",
)


def stable_seed(*parts: object) -> int:
    """A seed derived from a stable hash (Python's ``hash`` is salted per process)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def make_rubric(topic: str, rng: random.Random) -> tuple[Criterion, ...]:
    """A rubric for ``topic``: the key term always, the other criteria each with OPTIONAL_P."""
    term, unit = TOPICS[topic]
    rubric = [Criterion("mentions", 2.0, term)]
    if rng.random() < OPTIONAL_P:
        rubric.append(Criterion("number_with_unit", 1.0, unit))
    if rng.random() < OPTIONAL_P:
        rubric.append(Criterion("max_words", 1.0, rng.choice(WORD_LIMITS)))
    if rng.random() < OPTIONAL_P:
        rubric.append(Criterion("format", 1.0, "bullets"))
    if rng.random() < OPTIONAL_P or len(rubric) == 1:
        rubric.append(Criterion("ends_with_recommendation", 1.0))
    return tuple(rubric)


def generate_tasks(n: int, seed: int, split: str = "train") -> list[RubricTask]:
    """``n`` deterministic rubric tasks; different ``split`` names give different draws.

    Args:
        n: number of tasks.
        seed: base seed; the same (seed, split, n) always yields the same tasks.
        split: name mixed into the seed and the ids (``train``, ``eval``, ``pretrain``).
    """
    rng = random.Random(stable_seed("rgsd-tasks", seed, split))
    topics = sorted(TOPICS)
    tasks = []
    for i in range(n):
        topic = rng.choice(topics)
        template = rng.randrange(len(PROMPT_TEMPLATES))
        prompt = PROMPT_TEMPLATES[template].format(topic=topic)
        rubric = make_rubric(topic, rng)
        meta = {"topic": topic, "template": template, "split": split}
        tasks.append(
            RubricTask(id=f"{split}-{seed}-{i:05d}", prompt=prompt, rubric=rubric, meta=meta)
        )
    return tasks


def _fill(topic: str, rng: random.Random, k: int) -> list[str]:
    return [f.format(topic=topic, Topic=topic.capitalize()) for f in rng.sample(_FILLERS, k)]


def _layout(sentences: list[str], bullets: bool, closing: str | None) -> str:
    body = "\n".join(f"- {s}" for s in sentences) if bullets else " ".join(sentences)
    return f"{body}\n{closing}" if closing else body


def good_response(task: RubricTask, rng: random.Random) -> str:
    """A response that meets every criterion of ``task.rubric`` (and only by design)."""
    topic = task.meta.get("topic") or next(t for t in TOPICS if t in task.prompt)
    term, unit = TOPICS[topic]
    kinds = {c.kind: c for c in task.rubric}
    sentences = [f"Focus on {term}."] if "mentions" in kinds else []
    if "number_with_unit" in kinds:
        sentences.append(f"Plan about {rng.randint(2, 9)} {unit}.")
    # Without a word limit the answer is as long as a generic one; with it, short.
    sentences += _fill(topic, rng, 0 if "max_words" in kinds else rng.randint(2, 3))
    if len(sentences) < 2 and "format" in kinds:
        sentences += _fill(topic, rng, 2 - len(sentences))
    if not sentences:
        sentences = _fill(topic, rng, 1)
    closing = rng.choice(_RECOMMENDATIONS) if "ends_with_recommendation" in kinds else None
    return _layout(sentences, "format" in kinds, closing)


def generic_response(task: RubricTask, rng: random.Random, p_feature: float = 0.2) -> str:
    """A plausible rubric-unaware answer: each rubric feature appears with ``p_feature``."""
    topic = task.meta.get("topic") or next(t for t in TOPICS if t in task.prompt)
    term, unit = TOPICS[topic]
    sentences = _fill(topic, rng, rng.randint(2, 5))
    if rng.random() < p_feature:
        sentences.insert(rng.randrange(len(sentences) + 1), f"Think about {term}.")
    if rng.random() < p_feature:
        sentences.append(f"It can take {rng.randint(2, 9)} {unit}.")
    closing = rng.choice(_RECOMMENDATIONS) if rng.random() < p_feature else None
    return _layout(sentences, rng.random() < p_feature, closing)
