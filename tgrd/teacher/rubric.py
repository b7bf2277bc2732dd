"""Rubrics as data: load ``configs/rubrics/*.yaml``, render the judge prompt, parse the label.

    from tgrd.teacher.rubric import load_rubric
    rubric = load_rubric("5way")
    messages = rubric.render(record["messages"], task="code")
    label, rationale = rubric.parse(reply_text)   # raises LabelParseError

The instance is embedded in the prompt as JSON between ``<instance>`` tags (``<`` escaped, so
the tags cannot occur inside it); :func:`extract_instance` recovers it, which lets the local
teacher find the instance it is asked about. ``rubric.version`` is a content hash of the rubric
file (classes, descriptions, scores, template): it is part of every cache key and output row.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RUBRIC_DIR = Path(__file__).resolve().parents[2] / "configs" / "rubrics"
_INSTANCE_RE = re.compile(r"^<instance>\n(.*?)\n</instance>$", re.S | re.M)


class LabelParseError(ValueError):
    """A teacher reply that yields no valid label; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Rubric:
    name: str
    classes: tuple[str, ...]
    descriptions: dict[str, str]
    scores: dict[str, float]
    task_descriptions: dict[str, str]
    template: str
    version: str

    def render(
        self, messages: list[dict[str, str]], task: str | None = None
    ) -> list[dict[str, str]]:
        """The chat messages sent to the teacher for one instance."""
        task_description = self.task_descriptions.get(task or "", self.task_descriptions["default"])
        class_list = "\n".join(f"- {c}: {self.descriptions[c]}" for c in self.classes)
        instance = [{"role": m["role"], "content": m["content"]} for m in messages]
        prompt = self.template.format(
            task_description=task_description,
            class_list=class_list,
            class_names=", ".join(self.classes),
            instance_json=json.dumps(instance, ensure_ascii=False).replace("<", "\\u003c"),
        )
        return [{"role": "user", "content": prompt}]

    def response_format(self) -> dict[str, Any]:
        """OpenAI structured-output schema: ``{"label": enum, "rationale": str}``."""
        schema = {
            "type": "object",
            "properties": {
                "label": {"type": "string", "enum": list(self.classes)},
                "rationale": {"type": "string"},
            },
            "required": ["label", "rationale"],
            "additionalProperties": False,
        }
        return {
            "type": "json_schema",
            "json_schema": {"name": "rubric_label", "strict": True, "schema": schema},
        }

    def parse(self, text: str | None) -> tuple[str, str]:
        """Label and rationale from a reply: structured JSON first, then tolerant fallbacks.

        Accepts a JSON object (possibly inside a code fence or prose), ``label: X`` lines, or
        prose that names exactly one class. Never guesses: anything else raises.

        Raises:
            LabelParseError: ``empty_reply``, ``no_label`` or ``unknown_label``.
        """
        if text is None or not text.strip():
            raise LabelParseError("empty_reply", "the reply has no content")
        obj = _json_object(text)
        if obj is not None and "label" in obj:
            label = str(obj["label"]).strip().upper()
            if label not in self.classes:
                raise LabelParseError(
                    "unknown_label", f"{obj['label']!r} is not one of {self.classes}"
                )
            return label, str(obj.get("rationale", ""))
        match = re.search(r"label\W{0,3}\s*[:=]\s*\W{0,2}([A-Za-z_]+)", text, re.I)
        if match:
            label = match.group(1).upper()
            if label not in self.classes:
                raise LabelParseError(
                    "unknown_label", f"{match.group(1)!r} is not one of {self.classes}"
                )
            return label, text.strip()[:500]
        named = {c for c in self.classes if re.search(rf"\b{c}\b", text)}
        if len(named) == 1:
            return named.pop(), text.strip()[:500]
        raise LabelParseError("no_label", f"no class named in reply {text[:80]!r}")


def _json_object(text: str) -> dict[str, Any] | None:
    candidates = [text.strip()]
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        candidates.append(fence.group(1).strip())
    brace = re.search(r"\{.*\}", text, re.S)
    if brace:
        candidates.append(brace.group(0))
    for cand in candidates:
        try:
            obj = json.loads(cand)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def extract_instance(prompt: str) -> list[dict[str, str]] | None:
    """The instance messages embedded in a rendered prompt, or None when there are none."""
    match = _INSTANCE_RE.search(prompt)
    if not match:
        return None
    try:
        msgs = json.loads(match.group(1))
    except ValueError:
        return None
    if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
        return None
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in msgs]


def resolve_rubric_path(name_or_path: str) -> Path:
    """``3way`` → configs/rubrics/3way.yaml (cwd first, then the repository); or a YAML path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    for base in (Path.cwd() / "configs" / "rubrics", RUBRIC_DIR):
        if (base / f"{name_or_path}.yaml").is_file():
            return base / f"{name_or_path}.yaml"
    raise FileNotFoundError(f"rubric {name_or_path!r}: no {name_or_path}.yaml in configs/rubrics")


def load_rubric(name_or_path: str) -> Rubric:
    """Load and validate a rubric file; errors name the file and the key."""
    path = resolve_rubric_path(name_or_path)
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a rubric must be a mapping")
    for key in ("name", "classes", "task_descriptions", "template"):
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
    classes, descriptions, scores = [], {}, {}
    for i, cls in enumerate(data["classes"]):
        for key in ("name", "description", "score"):
            if not isinstance(cls, dict) or key not in cls:
                raise ValueError(f"{path}: classes[{i}] needs {key!r}")
        name = str(cls["name"]).upper()
        classes.append(name)
        descriptions[name] = str(cls["description"])
        scores[name] = float(cls["score"])
    if "default" not in data["task_descriptions"]:
        raise ValueError(f"{path}: task_descriptions needs a 'default' entry")
    # The version hashes the parsed content (not whitespace or comments) of rubric and template.
    canonical = json.dumps(
        {
            "classes": data["classes"],
            "tasks": data["task_descriptions"],
            "template": data["template"],
        },
        sort_keys=True,
    )
    version = f"{data['name']}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"
    return Rubric(
        name=str(data["name"]),
        classes=tuple(classes),
        descriptions=descriptions,
        scores=scores,
        task_descriptions={str(k): str(v) for k, v in data["task_descriptions"].items()},
        template=str(data["template"]),
        version=version,
    )
