"""Planted defects: how a response (or a whole JSONL line) is spoiled for each category.

    import random
    from tgrd.synth.defects import truncate, repeat_fragment, malformed_line
    truncate("7-3=4", random.Random(0))             # '7-3'
    malformed_line({"id": "x", ...}, random.Random(0))  # a raw line ingest must quarantine

Structural defects are built to trip the deterministic gates the way real data does: empty
responses are empty after stripping, degenerate repetition has at least 20 words (the gates'
``repetition_min_words``), malformed lines fail JSON parsing or canonical conversion with one of
the reason codes of tgrd.records.
"""

from __future__ import annotations

import json
import random
from typing import Any

# Generic chat for off-task instances: (prompt template, response template), short ones first.
CHAT_TINY = (
    ("Say hi to {name}.", "Hi {name}! Nice to meet you."),
    ("Name a fruit.", "A {fruit}."),
    ("Pick a color.", "I pick {color}."),
    ("Greet {name}.", "Hello {name}, welcome!"),
    ("Favorite fruit?", "I like {fruit}s."),
    ("Tell {name} good night.", "Good night, {name}. Sleep well."),
)
CHAT_STANDARD = (
    (
        "Can you suggest a name for my new {pet}?",
        "How about {name}? It is short, friendly and easy to call out.",
    ),
    (
        "Write a short greeting card message for {name}.",
        "Dear {name}, wishing you a wonderful year full of joy and {fruit} pie!",
    ),
    (
        "What is a good way to relax after work?",
        "Try a short walk, some music, or a cup of tea with a {fruit} snack.",
    ),
    (
        "Describe the color {color} to a child.",
        "{color} is the color you see in a bright sky, a toy, or a painted door.",
    ),
    (
        "Give me a fun fact about {pet}s.",
        "{pet}s can learn their names and often come when {name} calls them.",
    ),
)
NAMES = ("Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jin")
FRUITS = ("apple", "pear", "plum", "mango", "kiwi", "lime")
COLORS = ("red", "blue", "green", "teal", "gold", "pink")
PETS = ("cat", "dog", "parrot", "rabbit", "hamster")
FILLERS = ("the the", "answer", "ok ok", "and then", "return", "yes")


def chat_pair(rng: random.Random, difficulty: str) -> tuple[str, str]:
    """A generic chit-chat (prompt, response) pair: off-task for both benchmark tasks."""
    prompt_t, response_t = rng.choice(CHAT_TINY if difficulty == "tiny" else CHAT_STANDARD)
    slots = {
        "name": rng.choice(NAMES),
        "fruit": rng.choice(FRUITS),
        "color": rng.choice(COLORS),
        "pet": rng.choice(PETS),
    }
    return prompt_t.format(**slots), response_t.format(**slots)


def empty_response(rng: random.Random) -> str:
    """Empty or whitespace-only (the gates strip whitespace before measuring)."""
    return rng.choice(("", " ", "\n", "  \n "))


def truncate(text: str, rng: random.Random) -> str:
    """Cut a response at 25-70 % of its length (at least one character removed)."""
    if len(text) <= 1:
        return ""
    cut = max(1, min(len(text) - 1, int(len(text) * rng.uniform(0.25, 0.7))))
    return text[:cut]


def repeat_fragment(text: str, rng: random.Random) -> str:
    """Degenerate repetition: a fragment of the response (or a filler) looped >= 20 words."""
    words = text.split()
    if len(words) >= 2 and rng.random() < 0.6:
        start = rng.randrange(len(words) - 1)
        fragment = " ".join(words[start : start + rng.randint(1, 4)])
    else:
        fragment = rng.choice(FILLERS)
    n_words = max(1, len(fragment.split()))
    reps = max(20 // n_words + 1, rng.randint(12, 30))
    sep = rng.choice((" ", "\n"))
    return sep.join([fragment] * reps)


def malformed_line(record: dict[str, Any], rng: random.Random) -> str:
    """A raw JSONL line that ingest cannot turn into a canonical record.

    Variants (each maps to a reason code of tgrd.records): the line cut mid-way
    (invalid_json), ``messages`` renamed (unknown_shape), ``messages`` a string
    (ill_typed_field), a message without ``content`` (missing_field), an unknown role
    (unknown_role), and a bare JSON array (not_an_object).
    """
    variant = rng.randrange(6)
    rec = json.loads(json.dumps(record))  # deep copy
    if variant == 0:
        line = json.dumps(rec, ensure_ascii=False)
        return line[: max(2, int(len(line) * rng.uniform(0.3, 0.9)))]
    if variant == 1:
        rec["msgs"] = rec.pop("messages")
    elif variant == 2:
        rec["messages"] = " ".join(m["content"] for m in rec["messages"])
    elif variant == 3:
        del rec["messages"][-1]["content"]
    elif variant == 4:
        rec["messages"][-1]["role"] = rng.choice(("bot", "model", "gpt4"))
    else:
        return json.dumps([rec["id"], rec["messages"]], ensure_ascii=False)
    return json.dumps(rec, ensure_ascii=False)
