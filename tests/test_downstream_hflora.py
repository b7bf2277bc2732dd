"""Paper-scale path on a tiny random-init Qwen2 saved locally: LoRA SFT, answer-only loss, score."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from tgrd.config import load_config  # noqa: E402
from tgrd.downstream.hflora import finetune_and_score_hf, sft_batch  # noqa: E402
from tgrd.downstream.pretrain import generic_corpus  # noqa: E402
from tgrd.rgsd.model import bpe_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    corpus = [p + a for p, a in generic_corpus(["finqa"], 200, seed=0)]
    tok = bpe_tokenizer(corpus, vocab_size=300)
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny_qwen2")
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_labels_cover_answer_tokens_only(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids, att, lab = sft_batch(tok, [("Fig: sales 6, costs 3. Profit?", "6-3=3")], 64)
    n_prompt = len(tok("Fig: sales 6, costs 3. Profit?\n", add_special_tokens=False)["input_ids"])
    assert (lab[0, :n_prompt] == -100).all()
    assert lab[0, n_prompt:].tolist() == ids[0, n_prompt:].tolist()
    assert lab[0, -1].item() == tok.eos_token_id and att.sum().item() == ids.shape[1]


def test_lora_finetune_and_score_runs_offline(tiny_model_dir, tmp_path):
    cand, bench = tmp_path / "cand.jsonl", tmp_path / "bench.jsonl"
    with open(cand, "w") as f:
        for p, a in generic_corpus(["finqa"], 16, seed=1):
            msgs = [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    with open(bench, "w") as f:
        for p, a in generic_corpus(["finqa"], 4, seed=2):
            gold = float(a.split("=")[-1])
            f.write(
                json.dumps(
                    {
                        "messages": [{"role": "user", "content": p}],
                        "answer": gold,
                        "tolerance": {"abs": 0.01},
                    }
                )
                + "\n"
            )
    cfg = load_config(
        None,
        [
            "downstream.model=hf_lora",
            f"downstream.hf_lora.model_path={tiny_model_dir}",
            "downstream.hf_lora.max_steps=4",
            "downstream.hf_lora.batch_size=4",
            "downstream.hf_lora.max_new_tokens=6",
            "downstream.hf_lora.lr=0.01",
        ],
    ).downstream
    row = finetune_and_score_hf("finqa", cand, bench, cfg, seed=0)
    assert row["n_train"] == 16 and row["n_benchmark"] == 4
    assert 0.0 <= row["score"] <= 1.0
    assert row["train_loss_last"] < row["train_loss_first"]
