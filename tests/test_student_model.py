"""Student builder: decoder (tiny Qwen2) and encoder (BERT-shaped) classifiers with LoRA, saved
with ``save_pretrained`` and reloaded to the same logits."""

from __future__ import annotations

import json

import pytest
import torch

from tgrd.config import load_config
from tgrd.student.model import build_student, collate, encode, load_student, render, save_student

CLASSES = ("PASS", "INCORRECT", "TASK_MISMATCH")
MSGS = [
    [
        {"role": "user", "content": "def f(x):\n    '''x plus one'''"},
        {"role": "assistant", "content": "return x + 1"},
    ],
    [
        {"role": "user", "content": "Cora: 2022 6, 2023 8. Change?"},
        {"role": "assistant", "content": "2"},
    ],
]


def _logits(model, tok, max_length=64):
    ids = encode([render(m, tok) for m in MSGS], tok, max_length, 0.25)
    x, mask = collate(ids, tok.pad_token_id)
    model.eval()
    with torch.no_grad():
        return model(input_ids=x, attention_mask=mask).logits


def _perturb_trainable(model):
    # A fresh LoRA is a no-op (B = 0): move the trained weights so a reload is a real check.
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)


def _meta(cfg):
    return {"student": cfg.model_dump(mode="json"), "classes": list(CLASSES), "base_seed": 0}


def test_tiny_qwen2_saves_adapter_and_head_and_reloads_exactly(tmp_path):
    from tgrd.student.model import build_base, weights_checksum

    cfg = load_config().student
    tok, model = build_student(cfg, CLASSES, seed=0)
    base = build_base(cfg.model, tok, 3, dict(enumerate(CLASSES)), seed=0)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("score" in n for n in trainable)
    assert not any("embed_tokens" in n for n in trainable)
    _perturb_trainable(model)
    save_student(
        model, tok, tmp_path / "student", {**_meta(cfg), "base_checksum": weights_checksum(base)}
    )
    loaded, tok2, meta = load_student(tmp_path)  # the distill output dir also works (…/student)
    assert meta["classes"] == list(CLASSES)
    assert torch.equal(_logits(model, tok), _logits(loaded, tok2))
    bad = json.loads((tmp_path / "student" / "student.json").read_text())
    bad["base_checksum"] = "0" * 16
    (tmp_path / "student" / "student.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="differs"):
        load_student(tmp_path / "student")


def test_encoder_from_a_local_directory(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    from tgrd.rgsd.model import bpe_tokenizer

    # A small locally trained BPE keeps this test fast; any HF tokenizer directory works.
    tok = bpe_tokenizer([m["content"] for msgs in MSGS for m in msgs] * 20, vocab_size=300)
    bert = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id)  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(bert).save_pretrained(tmp_path / "bert")  # a 2-label head
    tok.save_pretrained(tmp_path / "bert")
    cfg = load_config(None, [f"student.model.path={tmp_path / 'bert'}"]).student
    tok2, model = build_student(cfg, CLASSES, seed=0)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("query.lora_A" in n for n in trainable) and any("classifier" in n for n in trainable)
    assert _logits(model, tok2).shape == (2, 3)
    _perturb_trainable(model)
    save_student(model, tok2, tmp_path / "s", {**_meta(cfg), "base_checksum": None})
    loaded, tok3, _ = load_student(tmp_path / "s")
    assert torch.allclose(_logits(model, tok2), _logits(loaded, tok3))


def test_missing_model_directory_is_a_clear_error(tmp_path):
    cfg = load_config(None, [f"student.model.path={tmp_path / 'nope'}"]).student
    with pytest.raises(FileNotFoundError, match="student.model.path"):
        build_student(cfg, CLASSES)


def test_gradient_accumulation_matches_one_big_batch():
    from types import SimpleNamespace

    from tgrd.student.engine import make_engine

    class Tiny(torch.nn.Module):  # the engine only needs ``model(...).logits``
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(50, 8)
            self.head = torch.nn.Linear(8, 3)

        def forward(self, input_ids, attention_mask):
            return SimpleNamespace(logits=self.head(self.emb(input_ids).mean(1)))

    torch.manual_seed(0)
    x, y = torch.randint(0, 50, (8, 5)), torch.randint(0, 3, (8,))
    mask, w = torch.ones_like(x), torch.ones(3)
    runs = {}
    for accum in (1, 2):
        torch.manual_seed(1)
        model = Tiny()
        tc = load_config(
            None, [f"student.train.grad_accum={accum}", "student.train.lr=0.1"]
        ).student.train
        engine = make_engine(model, tc, total_steps=10)
        parts = [slice(0, 8)] if accum == 1 else [slice(0, 4), slice(4, 8)]
        stepped = [
            engine.micro_step(x[s], mask[s], y[s], w, i == len(parts) - 1)[1]
            for i, s in enumerate(parts)
        ]
        assert stepped[-1] and not any(stepped[:-1])
        runs[accum] = [p.detach().clone() for p in model.parameters()]
    for a, b in zip(runs[1], runs[2], strict=True):
        assert torch.allclose(a, b, atol=1e-6)
