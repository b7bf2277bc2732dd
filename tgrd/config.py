"""One typed experiment config, loaded from YAML with ``key.sub=value`` overrides.

Every stage reads its settings from a section of :class:`Config`. A config file is YAML whose
top-level keys are section names; anything not set keeps the default below, so
``configs/smoke.yaml`` only states what differs from the defaults.

    from tgrd.config import load_config
    cfg = load_config("configs/smoke.yaml", ["gates.min_response_chars=3", "run.seed=7"])

An unknown key or a value of the wrong type fails with :class:`ConfigError` naming the file and
the dotted key (``configs/smoke.yaml: gates.min_response_chars: Input should be a valid integer``).

Sections owned by other modules (synthetic benchmark, teacher, student, ...) are defined next to
the code that uses them and composed here, so this file stays the single schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from tgrd.downstream.settings import CalibrateConfig, DownstreamConfig
from tgrd.rgsd.settings import RgsdConfig
from tgrd.schema import StrictModel
from tgrd.student.settings import ScoreConfig, StudentConfig
from tgrd.synth.settings import SynthConfig
from tgrd.teacher.settings import TeacherConfig


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and the key."""


class RunConfig(StrictModel):
    name: str = "default"
    # Run directories are created under root/name; every stage writes there.
    root: str = "runs"
    seed: int = 0


class RayConfig(StrictModel):
    # None → local single-node Ray (``ray.init()``); "auto" or "ray://host:10001" → a cluster.
    address: str | None = None
    # Local mode only: cap the CPUs Ray may use (None = all cores).
    num_cpus: int | None = None
    include_dashboard: bool = False


class IngestConfig(StrictModel):
    # Files or directories (searched for *.jsonl, *.jsonl.gz, *.json, *.parquet).
    inputs: list[str] = Field(default_factory=list)
    # Rows whose raw text exceeds this many bytes are quarantined as ``row_too_large``.
    max_row_bytes: int = Field(default=1_000_000, gt=0)
    # Quarantined raw text is truncated to this many characters (the reason is never truncated).
    raw_text_chars: int = Field(default=2000, ge=0)
    # Task label given to records that carry none (e.g. "code", "finqa").
    default_task: str | None = None
    # How many records one parse task emits per output batch.
    batch_rows: int = Field(default=4096, gt=0)


class GateConfig(StrictModel):
    """Thresholds of the deterministic tool gates (tgrd/gates.py).

    Defaults follow Gopher (Rae et al. 2021, Table A1) as implemented in DataTrove's
    GopherRepetitionFilter: duplicate-line fraction 0.30, duplicate-line character fraction 0.20,
    top 2/3/4-gram character coverage 0.20/0.18/0.16, duplicated 5..10-gram character fraction
    0.15 down to 0.10.
    """

    # (b) empty / too short: characters left after stripping whitespace and markup. 1 means
    # "anything non-empty passes", which keeps correct-but-terse answers such as "42".
    min_response_chars: int = Field(default=1, ge=0)
    # Responses with fewer words than this skip the repetition gate (statistics are meaningless).
    repetition_min_words: int = Field(default=20, ge=1)
    dup_line_frac: float = Field(default=0.30, ge=0, le=1)
    dup_line_char_frac: float = Field(default=0.20, ge=0, le=1)
    top_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16}
    )
    dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )
    # Ray Data stage: actor pool size, CPUs per actor (fractional so read tasks are never
    # starved on small machines, see ENVIRONMENT.md), rows per batch.
    actors: int = Field(default=2, ge=1)
    actor_num_cpus: float = Field(default=0.5, gt=0)
    batch_size: int = Field(default=4096, gt=0)


class PipelineConfig(StrictModel):
    """Which stages ``tgrd run`` executes, and where its data comes from (tgrd/pipeline.py)."""

    # synth: generate the synthetic benchmark; inputs: ingest.inputs; examples: bundled files.
    source: Literal["synth", "inputs", "examples"] = "synth"
    # Stages to run, in order; leave one out to stop early (e.g. [synth, gate]).
    stages: list[str] = Field(default_factory=lambda: ["synth", "gate"])


class Config(StrictModel):
    run: RunConfig = Field(default_factory=RunConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    gates: GateConfig = Field(default_factory=GateConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    rgsd: RgsdConfig = Field(default_factory=RgsdConfig)
    synth: SynthConfig = Field(default_factory=SynthConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    downstream: DownstreamConfig = Field(default_factory=DownstreamConfig)
    calibrate: CalibrateConfig = Field(default_factory=CalibrateConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(f"{origin}: malformed override key {dotted!r}")
    node = tree
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {'.'.join(keys[: depth + 1])} is not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``a.b=value``; the value is parsed as YAML so ``3``, ``true``, ``[1,2]`` are typed."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key.sub=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML: {exc}") from exc
    return key.strip(), value


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{origin}: unknown key {key!r}")
        else:
            lines.append(f"{origin}: {key}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def config_from_dict(tree: dict[str, Any], origin: str = "<dict>") -> Config:
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None) and apply overrides.

    Args:
        path: YAML file; top-level keys are sections of :class:`Config`.
        overrides: ``key.sub=value`` strings applied after the file, in order.

    Raises:
        ConfigError: unreadable file, invalid YAML, unknown key or ill-typed value.
    """
    origin = str(path) if path is not None else "<defaults>"
    tree: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{origin}: cannot read config: {exc}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{origin}: invalid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{origin}: top level must be a mapping of sections")
        tree = loaded
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(tree, key, value, f"{origin} (override {text!r})")
    return config_from_dict(tree, origin)


def dump_config(cfg: Config) -> str:
    """The fully-resolved config as YAML (written into every run directory)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
