"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", §2.1).

    from tgrd.codeeval.passk import pass_at_k
    pass_at_k(n=200, c=12, k=10)  # P(at least one of k samples drawn from n passes)

With n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k). The binomials overflow for
n in the hundreds, so we use the paper's product form
1 - prod_{i=n-c+1}^{n} (1 - k / i), which stays in [0, 1] in floating point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import fmean


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k for one problem.

    Args:
        n: samples generated for the problem.
        c: samples that passed (0 <= c <= n).
        k: the k in pass@k (1 <= k <= n).

    Returns:
        The probability that at least one of k samples, drawn without replacement, passes.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:  # every draw of k contains a passing sample
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], ks: Sequence[int]) -> dict[str, float | None]:
    """Mean pass@k over problems given ``(n, c)`` per problem.

    A k larger than some problem's n is reported as ``None`` (the estimate is undefined there),
    as HumanEval's harness does by leaving it out.
    """
    counts = list(counts)
    out: dict[str, float | None] = {}
    for k in ks:
        if not counts or any(n < k for n, _ in counts):
            out[f"pass@{k}"] = None
        else:
            out[f"pass@{k}"] = fmean(pass_at_k(n, c, k) for n, c in counts)
    return out
