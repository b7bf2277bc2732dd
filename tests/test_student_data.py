"""Student training data, rendering/truncation, sampling and DVS: pure functions, no model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from student_pool import make_run, truth_labels

from tgrd.config import ConfigError, load_config
from tgrd.student.data import (
    bucketed_batches,
    build_examples,
    class_weights,
    shard_batches,
    stratified_split,
)
from tgrd.student.model import render, truncate_ids
from tgrd.student.score import candidate_files, dataset_value_score, sample_indices
from tgrd.student.settings import GATE_FAIL, StudentDataConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("student_data"))


def test_3way_gate_failures_get_the_automatic_label(run):
    data = build_examples(run["gated"], run["labels"], StudentDataConfig())
    gated = pq.read_table(run["gated"]).to_pydict()
    failed = {i for i, ok in zip(gated["id"], gated["gate_pass"], strict=True) if not ok}
    assert failed, "the smoke pool has gate failures"
    by_id = dict(zip(data.ids, data.labels.tolist(), strict=True))
    origin = dict(zip(data.ids, data.origin, strict=True))
    assert all(data.classes[by_id[i]] == "INCORRECT" and origin[i] == "gate" for i in failed)
    assert len(data) == len(gated["id"])  # every gated record is labelled (truth covers all)
    assert data.summary["by_origin_label"]["gate:INCORRECT"] == len(failed)


def test_3way_can_leave_gate_failures_out(run):
    data = build_examples(
        run["gated"], run["labels"], StudentDataConfig(include_gate_failures=False)
    )
    assert set(data.origin) == {"teacher"}
    n_failed = pq.read_table(run["gated"]).column("gate_pass").to_pylist().count(False)
    assert data.summary["by_origin_label"]["gate_fail_excluded"] == n_failed
    assert len(data) + n_failed == pq.read_table(run["gated"]).num_rows


def test_5way_uses_teacher_labels_everywhere(run):
    data = build_examples(run["gated"], run["labels5"], StudentDataConfig(labels="5way"))
    assert set(data.origin) == {"teacher"}
    assert len(data.classes) == 5 and {"EMPTY_OR_TRUNCATED", "DEGENERATE"} <= {
        data.classes[i] for i in data.labels
    }


def test_unlabelled_rows_are_counted_and_bad_labels_named(run, tmp_path):
    t = pq.read_table(run["labels"])
    gated_ids = pq.read_table(run["gated"]).column("id").to_pylist()
    drop = set(gated_ids[:10])
    keep = t.filter(pa.array([i not in drop for i in t.column("id").to_pylist()]))
    pq.write_table(keep, tmp_path / "partial.parquet")
    data = build_examples(
        run["gated"], tmp_path / "partial.parquet", StudentDataConfig(labels="5way")
    )
    assert data.summary["by_origin_label"]["unlabelled"] == 10 and len(data) == len(gated_ids) - 10
    bad = t.set_column(
        1,
        "label",
        pa.array(
            [
                "GREAT" if i == gated_ids[0] else lab
                for i, lab in zip(
                    t.column("id").to_pylist(), t.column("label").to_pylist(), strict=True
                )
            ]
        ),
    )
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet.*'GREAT'"):
        build_examples(run["gated"], tmp_path / "bad.parquet", StudentDataConfig(labels="5way"))


def test_class_weights_and_stratified_split():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    w = class_weights(labels, 4)
    assert w[3] == 0 and np.isclose(w[0] * 60, w[2] * 10)
    assert class_weights(labels, 3, "none") == [1.0, 1.0, 1.0]
    tr, va = stratified_split(labels, 0.2, seed=1)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert np.bincount(labels[va]).tolist() == [12, 6, 2]
    assert (stratified_split(labels, 0.2, seed=1)[1] == va).all()
    assert not np.array_equal(stratified_split(labels, 0.2, seed=2)[1], va)


def test_bucketed_batches_cover_everything_once_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=1000)
    plain = bucketed_batches(lengths, 16, seed=3, bucketing=False)
    bucketed = bucketed_batches(lengths, 16, seed=3, bucketing=True, window=16)
    for batches in (plain, bucketed):
        assert sorted(i for b in batches for i in b) == list(range(1000))

    def padded(bs):
        return sum(len(b) * lengths[b].max() for b in bs)

    assert padded(bucketed) < 0.7 * padded(plain)
    shards = [shard_batches(bucketed, r, 3) for r in range(3)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == len(bucketed) // 3


def test_truncation_keeps_head_and_end():
    ids = list(range(100))
    out = truncate_ids(ids, 20, 0.25)
    assert out == list(range(5)) + list(range(85, 100))
    assert truncate_ids(ids[:10], 20, 0.25) == ids[:10]


def test_role_tag_rendering_without_chat_template():
    class NoTemplate:
        chat_template = None

    text = render(
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], NoTemplate()
    )
    assert text == "<|user|>\n2+2?\n<|assistant|>\n4\n"
    with pytest.raises(ValueError, match="no chat template"):
        render([], NoTemplate(), "chat_template")


def test_sampling_is_seeded_and_dvs_uses_the_map():
    a = sample_indices(500, 128, seed=0, name="code/cand_00")
    assert len(a) == 128 and len(set(a.tolist())) == 128
    assert (a == sample_indices(500, 128, seed=0, name="code/cand_00")).all()
    assert not np.array_equal(a, sample_indices(500, 128, seed=0, name="code/cand_01"))
    assert len(sample_indices(50, 128, 0, "x")) == 50
    smap = load_config().score.score_map
    assert dataset_value_score(
        [GATE_FAIL, "PASS", "TASK_MISMATCH", "INCORRECT"], smap
    ) == pytest.approx(0.4 / 4)
    with pytest.raises(ValueError, match="DEGENERATE"):
        dataset_value_score(["DEGENERATE"], {GATE_FAIL: 0.0})


def test_candidate_names_and_collisions(run, tmp_path):
    files = candidate_files(run["candidates"])
    assert len(files) == 16 and "code/cand_00" in files and "finqa/cand_07" in files
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "same.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="same"):
        candidate_files([tmp_path / "a", tmp_path / "b"])


def test_score_map_needs_gate_fail_entry():
    with pytest.raises(ConfigError, match="GATE_FAIL"):
        load_config(None, ["score.score_map={PASS: 1.0}"])


def test_truth_labels_helper_maps_malformed(run, tmp_path):
    out = truth_labels(run["synth"] / "truth.parquet", tmp_path / "l5.parquet", "label5")
    assert "MALFORMED" not in set(pq.read_table(out).column("label").to_pylist())
