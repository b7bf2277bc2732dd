"""Numeric questions over small financial statements (the stand-in for OpenFinData).

    import random
    from tgrd.synth.finqa_tasks import make_finqa_problem
    p = make_finqa_problem(random.Random(0), "tiny", abs_tol=0.01, rel_tol=0.001)
    p.prompt   # 'Cora: sales 7, costs 3. Profit?'
    p.clean    # '7-3=4'

``tiny``: one line, one-digit operands, the operation keyed to the question word (Profit,
Total, Change, Revenue, Unit cost), so a char-level model can learn it (DESIGN.md §5).
``standard``: a two-year statement table (thousands separators, a dated invoice line) and one- or
two-step questions (gross profit, operating income, margin %, growth %, EPS, days outstanding).
Answers are graded by tgrd.qaeval with the tolerance stated on each item.
"""

from __future__ import annotations

import datetime as dt
import random

from tgrd.synth.problem import Problem

COMPANIES = (
    "Acme",
    "Bolt",
    "Cora",
    "Dyno",
    "Echo",
    "Fig",
    "Gale",
    "Hale",
    "Iris",
    "Juno",
    "Kite",
    "Lux",
)
LONG_COMPANIES = (
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam Inc",
    "Tailspin Toys",
    "Litware Corp",
    "Adventure Works",
    "Proseware Inc",
    "Wingtip Goods",
    "Alpine Ski House",
    "Margie's Travel",
)


def _fmt(x: float) -> str:
    """Thousands separators; at most two decimals; no trailing zeros."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _tiny(rng: random.Random) -> tuple[str, str, str, float, float]:
    """(prompt, working, wrong working, answer, wrong answer) for a one-line question."""
    name = rng.choice(COMPANIES)
    kind = rng.randrange(5)
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    if kind == 0:
        a, b = max(a, b), min(a, b)
        prompt, op, ans = f"{name}: sales {a}, costs {b}. Profit?", "-", a - b
        wrong_op, wrong = "+", a + b
    elif kind == 1:
        prompt, op, ans = f"{name}: Q1 {a}, Q2 {b}. Total?", "+", a + b
        wrong_op, wrong = "+", a + b + rng.choice((-1, 1))
    elif kind == 2:
        prompt, ans = f"{name}: 2022 {a}, 2023 {b}. Change?", b - a
        a, b, op = b, a, "-"  # working reads "2023 - 2022"
        wrong_op, wrong = "-", b - a if a != b else 1
    elif kind == 3:
        prompt, op, ans = f"{name}: price {a}, units {b}. Revenue?", "*", a * b
        wrong_op, wrong = "+", a + b if a * b != a + b else a * b + 1
    else:
        total = a * b
        prompt, ans = f"{name}: cost {total}, units {b}. Unit cost?", a
        a, b, op = total, b, "/"
        wrong_op, wrong = "-", total - b if total - b != ans else ans + 1
    working = f"{a}{op}{b}={_fmt(ans)}"
    wrong_working = f"{a}{wrong_op}{b}={_fmt(wrong)}"
    return prompt, working, wrong_working, float(ans), float(wrong)


def _statement(rng: random.Random) -> tuple[str, dict[str, dict[int, float]], dt.date, dt.date]:
    rev = {2022: rng.randint(800, 4000) * 10}
    rev[2023] = round(rev[2022] * rng.uniform(0.8, 1.3) / 10) * 10
    cos = {y: round(rev[y] * rng.uniform(0.4, 0.7) / 5) * 5 for y in rev}
    opex = {y: round(rev[y] * rng.uniform(0.1, 0.25) / 5) * 5 for y in rev}
    shares = {2022: rng.randint(2, 40) * 100}
    shares[2023] = shares[2022] + rng.randint(0, 5) * 50
    issued = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
    paid = issued + dt.timedelta(days=rng.randint(10, 90))
    name = rng.choice(LONG_COMPANIES)
    table = {
        "Revenue": rev,
        "Cost of sales": cos,
        "Operating expenses": opex,
        "Shares outstanding": shares,
    }
    lines = [
        f"{name} — income statement (USD thousands; shares in thousands)",
        "| item | 2022 | 2023 |",
    ]
    lines += [f"| {k} | {_fmt(v[2022])} | {_fmt(v[2023])} |" for k, v in table.items()]
    lines.append(
        f"Invoice INV-{rng.randint(100, 999)} was issued on {issued.isoformat()} and paid on {paid.isoformat()}."
    )
    return "\n".join(lines), table, issued, paid


def _standard(rng: random.Random) -> tuple[str, str, str, float, float]:
    text, t, issued, paid = _statement(rng)
    rev, cos, opex, sh = (
        t["Revenue"],
        t["Cost of sales"],
        t["Operating expenses"],
        t["Shares outstanding"],
    )
    y = rng.choice((2022, 2023))
    o = 2022 if y == 2023 else 2023  # the other year: the wrong column a careless reader uses
    kind = rng.randrange(6)
    if kind == 0:
        q = f"What was the gross profit in {y}, in USD thousands?"
        ans, wrong = rev[y] - cos[y], rev[o] - cos[y]
        work = f"Gross profit = {_fmt(rev[y])} - {_fmt(cos[y])} = {_fmt(ans)}."
        wwork = f"Gross profit = {_fmt(rev[o])} - {_fmt(cos[y])} = {_fmt(wrong)}."
    elif kind == 1:
        q = f"What was the operating income in {y}, in USD thousands?"
        ans, wrong = rev[y] - cos[y] - opex[y], rev[y] - cos[y] + opex[y]
        work = (
            f"Operating income = {_fmt(rev[y])} - {_fmt(cos[y])} - {_fmt(opex[y])} = {_fmt(ans)}."
        )
        wwork = (
            f"Operating income = {_fmt(rev[y])} - {_fmt(cos[y])} + {_fmt(opex[y])} = {_fmt(wrong)}."
        )
    elif kind == 2:
        q = f"What was the gross margin in {y}, as a percentage of revenue?"
        ans = round((rev[y] - cos[y]) / rev[y] * 100, 2)
        wrong = round(cos[y] / rev[y] * 100, 2)
        work = f"Gross margin = ({_fmt(rev[y])} - {_fmt(cos[y])}) / {_fmt(rev[y])} × 100 = {_fmt(ans)}%."
        wwork = f"Gross margin = {_fmt(cos[y])} / {_fmt(rev[y])} × 100 = {_fmt(wrong)}%."
    elif kind == 3:
        q = "By what percentage did revenue change from 2022 to 2023?"
        ans = round((rev[2023] - rev[2022]) / rev[2022] * 100, 2)
        wrong = round((rev[2023] - rev[2022]) / rev[2023] * 100, 2)
        work = f"Change = ({_fmt(rev[2023])} - {_fmt(rev[2022])}) / {_fmt(rev[2022])} × 100 = {_fmt(ans)}%."
        wwork = f"Change = ({_fmt(rev[2023])} - {_fmt(rev[2022])}) / {_fmt(rev[2023])} × 100 = {_fmt(wrong)}%."
    elif kind == 4:
        q = f"What was the operating income per share in {y}, in USD?"
        ans = round((rev[y] - cos[y] - opex[y]) / sh[y], 2)
        wrong = round((rev[y] - cos[y]) / sh[y], 2)
        work = (
            f"Operating income = {_fmt(rev[y])} - {_fmt(cos[y])} - {_fmt(opex[y])} = "
            f"{_fmt(rev[y] - cos[y] - opex[y])}; per share = {_fmt(rev[y] - cos[y] - opex[y])} / {_fmt(sh[y])} "
            f"= {_fmt(ans)}."
        )
        wwork = f"Per share = ({_fmt(rev[y])} - {_fmt(cos[y])}) / {_fmt(sh[y])} = {_fmt(wrong)}."
    else:
        q = "How many days passed between the invoice being issued and paid?"
        ans = (paid - issued).days
        wrong = ans + rng.choice((-1, 1, 30))
        work = f"From {issued.isoformat()} to {paid.isoformat()} is {ans} days."
        wwork = f"From {issued.isoformat()} to {paid.isoformat()} is {wrong} days."
    if wrong == ans:
        wrong = ans + 1
        wwork = wwork.rsplit("=", 1)[0] + f"= {_fmt(wrong)}."
    return f"{text}\nQuestion: {q}", work, wwork, float(ans), float(wrong)


def _verbose(prompt: str, wrong: float, rng: random.Random, difficulty: str) -> str:
    # Long, fluent and confident: the surface a rubric judge may reward (issue 4's bias knob).
    openers = (
        "Let's work through this carefully, step by step.",
        "Great question! Financial statements can be tricky, so let me explain.",
        "To answer this, we first identify the relevant figures in the statement.",
    )
    middles = (
        "We take the numbers given for the company and combine them as the question asks.",
        "It is important to read each line of the statement and apply the right operation.",
        "After checking the arithmetic twice, the calculation is consistent.",
    )
    n_mid = 1 if difficulty == "tiny" else 2
    parts = [rng.choice(openers)] + rng.sample(middles, n_mid)
    return " ".join(parts) + f" So the answer is {_fmt(wrong)}."


def make_finqa_problem(
    rng: random.Random, difficulty: str, abs_tol: float, rel_tol: float
) -> Problem:
    """Draw one financial QA problem with its correct, terse and wrong responses."""
    prompt, work, wwork, ans, wrong = (_tiny if difficulty == "tiny" else _standard)(rng)
    if difficulty == "tiny":
        clean, wrong_resp = work, wwork
    else:  # GSM8K-style final line, which tgrd.qaeval extracts first
        clean, wrong_resp = f"{work}\n#### {_fmt(ans)}", f"{wwork}\n#### {_fmt(wrong)}"
    return Problem(
        task="finqa",
        prompt=prompt,
        clean=clean,
        terse=_fmt(ans),
        wrong=wrong_resp,
        verbose_wrong=_verbose(prompt, wrong, rng, difficulty),
        grading={"answer": ans, "tolerance": {"abs": abs_tol, "rel": rel_tol}},
    )
