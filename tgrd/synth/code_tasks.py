"""Program-synthesis problems (the stand-in for LiveCodeBench) in HumanEval format.

    import random
    from tgrd.synth.code_tasks import make_code_problem
    p = make_code_problem(random.Random(0), "tiny")
    print(p.prompt + p.clean)          # a function a sandbox can run
    print(p.grading["test"])           # def check(candidate): assert ...

``tiny``: ``def calc(n):\\n    \"\"\"n times three\"\"\"\\n`` → ``    return n * 3`` — one
expression whose operator and one-digit constant are keyed to words in the docstring, so a
char-level model must map words to code instead of copying digits (DESIGN.md §5).
``standard``: list/string functions described in words with two doctest examples.

Hidden tests are computed by running the canonical body on the test inputs, and every wrong
body is checked to fail at least one of them, so "incorrect" is true by construction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tgrd.synth.problem import Problem

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TINY_NAMES = ("f", "g", "h", "calc", "step", "fn", "op", "move")
TINY_PARAMS = ("x", "n", "a", "v")
# (word in the docstring, expression template)
TINY_OPS = (
    ("plus", "{p} + {k}"),
    ("minus", "{p} - {k}"),
    ("times", "{p} * {k}"),
    ("mod", "{p} % {k}"),
    ("max with", "max({p}, {k})"),
    ("min with", "min({p}, {k})"),
)
TINY_INPUTS = [(-7,), (-2,), (0,), (1,), (4,), (9,), (13,)]

# Comment lines a "verbose but wrong" answer opens with: fluent, confident, useless.
VERBOSE_LINES = (
    "# We read the docstring carefully and apply exactly the rule it describes.",
    "# Edge cases such as negative values and empty inputs are handled below.",
    "# This approach runs in linear time and uses constant extra memory.",
    "# The result is computed step by step so that it is easy to verify.",
    "# Each element is examined once, which keeps the solution efficient.",
    "# Tested mentally against the examples above; all of them pass.",
)


@dataclass(frozen=True)
class CodeSpec:
    """A function to write: what it is called, what it does, and three bodies for it."""

    entry: str
    param: str
    description: str
    clean: str
    terse: str
    wrong: str
    inputs: list[tuple[Any, ...]]


def _compile(source: str, entry: str) -> Callable[..., Any]:
    # Our own templated code, never model output: exec in-process is safe and fast here.
    namespace: dict[str, Any] = {}
    exec(compile(source, "<synth>", "exec"), namespace)  # noqa: S102
    return namespace[entry]


def _call_repr(entry: str, args: tuple[Any, ...]) -> str:
    return f"{entry}({', '.join(repr(a) for a in args)})"


def _tiny_spec(rng: random.Random) -> CodeSpec:
    name, p = rng.choice(TINY_NAMES), rng.choice(TINY_PARAMS)
    word, expr = rng.choice(TINY_OPS)
    k = rng.randint(2 if word == "mod" else 1, 9)
    body = expr.format(p=p, k=k)
    # A wrong body: another operator or another constant (checked to differ on the tests).
    w_word, w_expr = rng.choice(TINY_OPS)
    w_k = k if w_word != word else (k % 9) + 1
    if w_word == "mod" and w_k < 2:
        w_k = 2
    return CodeSpec(
        entry=name,
        param=p,
        description=f"{p} {word} {NUMBER_WORDS[k]}",
        clean=f"    return {body}\n",
        terse=f"    return {body.replace(' ', '')}",
        wrong=f"    return {w_expr.format(p=p, k=w_k)}\n",
        inputs=list(TINY_INPUTS),
    )


def _rand_ints(rng: random.Random, lo: int, hi: int) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(rng.randint(3, 7))]


def _rand_word(rng: random.Random, letters: str = "aeinorstc") -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(2, 8)))


def _std_sum_divisible(rng: random.Random) -> CodeSpec:
    k = rng.randint(2, 5)
    return CodeSpec(
        "sum_divisible",
        "nums",
        f"Return the sum of the numbers in nums that are divisible by {k}.",
        f"    total = 0\n    for x in nums:\n        if x % {k} == 0:\n            total += x\n    return total\n",
        f"    return sum(x for x in nums if x % {k} == 0)\n",
        f"    total = 0\n    for x in nums:\n        if x % {k} != 0:\n            total += x\n    return total\n",
        [(_rand_ints(rng, 0, 20),) for _ in range(6)],
    )


def _std_count_letter(rng: random.Random) -> CodeSpec:
    c = rng.choice("aeinorst")
    return CodeSpec(
        "count_letter",
        "s",
        f"Count how many times the letter '{c}' occurs in the string s.",
        f"    count = 0\n    for ch in s:\n        if ch == '{c}':\n            count += 1\n    return count\n",
        f"    return s.count('{c}')\n",
        f"    count = 0\n    for ch in s[1:]:\n        if ch == '{c}':\n            count += 1\n    return count\n",
        [(c + _rand_word(rng),)] + [(_rand_word(rng),) for _ in range(5)],
    )


def _std_longer_than(rng: random.Random) -> CodeSpec:
    k = rng.randint(2, 5)
    words = [(["x" * k] + [_rand_word(rng) for _ in range(rng.randint(2, 5))],)]
    return CodeSpec(
        "longer_than",
        "words",
        f"Return the words longer than {k} characters, in their original order.",
        f"    out = []\n    for w in words:\n        if len(w) > {k}:\n            out.append(w)\n    return out\n",
        f"    return [w for w in words if len(w) > {k}]\n",
        f"    out = []\n    for w in words:\n        if len(w) >= {k}:\n            out.append(w)\n    return out\n",
        words + [([_rand_word(rng) for _ in range(rng.randint(1, 5))],) for _ in range(5)],
    )


def _std_clamp(rng: random.Random) -> CodeSpec:
    lo = rng.randint(0, 5)
    hi = lo + rng.randint(3, 9)
    return CodeSpec(
        "clamp",
        "x",
        f"Clamp the integer x to the range [{lo}, {hi}].",
        f"    if x < {lo}:\n        return {lo}\n    if x > {hi}:\n        return {hi}\n    return x\n",
        f"    return max({lo}, min(x, {hi}))\n",
        f"    return min({lo}, max(x, {hi}))\n",
        [(lo - 3,), (lo,), (hi,), (hi + 4,)] + [(rng.randint(lo, hi),) for _ in range(2)],
    )


def _std_reverse_words(rng: random.Random) -> CodeSpec:
    return CodeSpec(
        "reverse_words",
        "s",
        "Return the words of s in reverse order, separated by single spaces.",
        "    words = s.split()\n    words.reverse()\n    return ' '.join(words)\n",
        "    return ' '.join(s.split()[::-1])\n",
        "    return s[::-1]\n",
        [(" ".join(_rand_word(rng) for _ in range(rng.randint(2, 4))),) for _ in range(6)],
    )


def _std_running_max(rng: random.Random) -> CodeSpec:
    return CodeSpec(
        "running_max",
        "nums",
        "Return a list whose i-th element is the maximum of nums[0..i].",
        "    out = []\n    best = None\n    for x in nums:\n        best = x if best is None else max(best, x)\n"
        "        out.append(best)\n    return out\n",
        "    return [max(nums[: i + 1]) for i in range(len(nums))]\n",
        "    out = []\n    best = 0\n    for x in nums:\n        best = max(best, x)\n        out.append(best)\n    return out\n",
        [([-rng.randint(1, 9)] + _rand_ints(rng, -9, 9),)]
        + [(_rand_ints(rng, -9, 9),) for _ in range(5)],
    )


def _std_dedupe(rng: random.Random) -> CodeSpec:
    return CodeSpec(
        "dedupe",
        "items",
        "Remove repeated items from the list, keeping the first occurrence of each.",
        "    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n            seen.add(x)\n"
        "            out.append(x)\n    return out\n",
        "    return list(dict.fromkeys(items))\n",
        "    return sorted(set(items))\n",
        [([9, 1, 9, 3],)] + [(_rand_ints(rng, 0, 6),) for _ in range(5)],
    )


def _std_scale_shift(rng: random.Random) -> CodeSpec:
    k, j = rng.randint(2, 5), rng.randint(1, 9)
    return CodeSpec(
        "scale_shift",
        "nums",
        f"Multiply every number in nums by {k}, then add {j}; return the new list.",
        f"    out = []\n    for x in nums:\n        out.append(x * {k} + {j})\n    return out\n",
        f"    return [x * {k} + {j} for x in nums]\n",
        f"    out = []\n    for x in nums:\n        out.append((x + {j}) * {k})\n    return out\n",
        [(_rand_ints(rng, -5, 9),) for _ in range(6)],
    )


STANDARD_FAMILIES: tuple[Callable[[random.Random], CodeSpec], ...] = (
    _std_sum_divisible,
    _std_count_letter,
    _std_longer_than,
    _std_clamp,
    _std_reverse_words,
    _std_running_max,
    _std_dedupe,
    _std_scale_shift,
)


def _prompt(spec: CodeSpec, examples: list[tuple[tuple[Any, ...], Any]]) -> str:
    lines = [f"def {spec.entry}({spec.param}):", f'    """{spec.description}']
    for args, out in examples:
        lines += [f"    >>> {_call_repr(spec.entry, args)}", f"    {out!r}"]
    lines.append('    """' if examples else "")
    if not examples:  # tiny: one-line docstring keeps the prompt ~35 characters
        lines = [lines[0], lines[1] + '"""']
    return "\n".join(lines) + "\n"


def make_code_problem(rng: random.Random, difficulty: str) -> Problem:
    """Draw one code problem; its wrong bodies provably fail the hidden tests."""
    for _ in range(100):
        spec = _tiny_spec(rng) if difficulty == "tiny" else rng.choice(STANDARD_FAMILIES)(rng)
        header = _prompt(spec, [])
        ref = _compile(header + spec.clean, spec.entry)
        expected = [ref(*args) for args in spec.inputs]
        wrong = _compile(header + spec.wrong, spec.entry)
        if any(wrong(*args) != exp for args, exp in zip(spec.inputs, expected, strict=True)):
            break
    else:  # pragma: no cover - the families above always admit a failing input
        raise RuntimeError("could not draw a code problem whose wrong body fails its tests")
    examples = [] if difficulty == "tiny" else list(zip(spec.inputs[:2], expected[:2], strict=True))
    prompt = _prompt(spec, examples)
    test = "def check(candidate):\n" + "".join(
        f"    assert candidate({', '.join(repr(a) for a in args)}) == {exp!r}\n"
        for args, exp in zip(spec.inputs, expected, strict=True)
    )
    comments = rng.sample(VERBOSE_LINES, 3 if difficulty == "tiny" else 4)
    verbose = "".join(f"    {c}\n" for c in comments) + spec.wrong
    return Problem(
        task="code",
        prompt=prompt,
        clean=spec.clean,
        terse=spec.terse,
        wrong=spec.wrong,
        verbose_wrong=verbose,
        grading={"entry_point": spec.entry, "test": test},
    )
