"""One synthetic problem with every response variant the recipes need.

A task module (``code_tasks``, ``finqa_tasks``) draws a :class:`Problem` from a seeded
``random.Random``; the defect and recipe modules then pick the response of a planted category
from it. Keeping every variant on the problem makes the categories differ only in the response,
never in the prompt, so no prompt feature gives the category away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """A prompt, its correct and wrong responses, and how to grade it.

    Attributes:
        task: ``code`` or ``finqa``.
        prompt: the user message (for code: a HumanEval ``prompt``, signature + docstring).
        clean: a correct response in the usual style (code: the HumanEval ``completion``).
        terse: a correct response with nothing but the answer.
        wrong: a plausible wrong response in the style of ``clean``.
        verbose_wrong: a long, fluent response whose result is wrong.
        grading: what a grader needs, without an id. Code: ``entry_point`` and ``test``
            (HumanEval ``check(candidate)``); finqa: ``answer`` and ``tolerance``.
    """

    task: str
    prompt: str
    clean: str
    terse: str
    wrong: str
    verbose_wrong: str
    grading: dict[str, Any] = field(default_factory=dict)

    def benchmark_item(self, item_id: str) -> dict[str, Any]:
        """A held-out benchmark item.

        Code items are HumanEval problems (``task_id``, ``prompt``, ``entry_point``, ``test``,
        ``canonical_solution``) so the sandboxed evaluator runs them; both kinds carry
        ``messages`` (the user turn) so a chat model is prompted exactly as in training.
        """
        messages = [{"role": "user", "content": self.prompt}]
        if self.task == "code":
            return {
                "task_id": item_id,
                "prompt": self.prompt,
                "entry_point": self.grading["entry_point"],
                "test": self.grading["test"],
                "canonical_solution": self.clean,
                "messages": messages,
            }
        return {
            "id": item_id,
            "question": self.prompt,
            "messages": messages,
            "answer": self.grading["answer"],
            "tolerance": self.grading["tolerance"],
        }

    def answer_key(self) -> dict[str, Any]:
        """Entry of the answer key a checking judge looks prompts up in (no category in it)."""
        return {"task": self.task, "prompt": self.prompt, **self.grading}
