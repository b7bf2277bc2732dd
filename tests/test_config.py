"""Config schema: YAML loading, dotted overrides, and errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tgrd.config import Config, ConfigError, dump_config, load_config, parse_override

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_load_without_a_file():
    cfg = load_config()
    assert isinstance(cfg, Config)
    assert cfg.gates.dup_ngram_char_frac[5] == 0.15


def test_overrides_are_typed_and_applied_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("gates:\n  min_response_chars: 3\n")
    cfg = load_config(path, ["gates.min_response_chars=5", "run.seed=7", "ingest.inputs=[a, b]"])
    assert cfg.gates.min_response_chars == 5
    assert cfg.run.seed == 7
    assert cfg.ingest.inputs == ["a", "b"]


def test_unknown_key_in_file_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("gates:\n  min_respnse_chars: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "gates.min_respnse_chars" in str(err.value)


def test_ill_typed_override_names_key():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["gates.min_response_chars=lots"])
    assert "gates.min_response_chars" in str(err.value)


def test_unknown_section_and_malformed_override():
    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        load_config(None, ["nope.x=1"])
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        parse_override("gates.min_response_chars")
    with pytest.raises(ConfigError, match="is not a section"):
        load_config(None, ["run.seed=1", "run.seed.x=2"])


def test_invalid_yaml_and_non_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("gates: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_dump_roundtrips(tmp_path):
    cfg = load_config(None, ["run.name=x", "gates.top_ngram_char_frac={2: 0.5}"])
    path = tmp_path / "dumped.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def _experiment_configs() -> list[Path]:
    # Rubrics are data for the teacher, validated by their own loader in the teacher tests.
    return sorted(p for p in CONFIG_DIR.rglob("*.yaml") if "rubrics" not in p.parts)


@pytest.mark.parametrize(
    "path", _experiment_configs(), ids=lambda p: str(p.relative_to(CONFIG_DIR))
)
def test_every_config_file_loads_and_opens_with_its_command(path):
    load_config(path)
    first = path.read_text().splitlines()[0]
    assert first.startswith("#"), f"{path} must open with a comment showing how to run it"


def test_there_are_configs():
    names = {p.name for p in _experiment_configs()}
    assert {"smoke.yaml", "demo.yaml"} <= names
