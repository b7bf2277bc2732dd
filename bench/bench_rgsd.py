"""RGSD throughput and memory: rollout and training tokens/s, chunked vs full-vocabulary loss.

Torch only (no Ray). Uses CUDA + bf16 when a GPU is present, else CPU + fp32.

    python bench/bench_rgsd.py                       # CPU: tiny Qwen2 body, real 151,936 vocab
    python bench/bench_rgsd.py --shape qwen2.5-1.5b  # GPU: random-init Qwen2.5-1.5B shape, bf16

Prints, each against a baseline measured in the same run:

1. rollout tokens/s of the LoRA student (``generate``, fixed length);
2. training tokens/s and peak memory of one RGSD step (teacher = adapter disabled);
3. the chunked loss (tgrd/rgsd/losses.py) vs the unchunked loss that materialises the
   (B, R, V) logits of student and teacher: time ratio and peak-memory ratio;
4. teacher sharing the student's weights vs a separate teacher copy: resident weight memory and
   peak step memory, relative to the student alone.

Peak memory is ``torch.cuda.max_memory_allocated`` on GPU; on CPU, the peak resident set size
above the level at the start of the measured call, sampled every 0.2 ms from /proc (torch
releases the GIL in its kernels, so the sampler keeps running).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tgrd.rgsd.losses import chunked_divergence_loss, divergence_loss  # noqa: E402
from tgrd.rgsd.settings import RgsdLoraConfig  # noqa: E402

SHAPES = {
    # CPU default: small body so the 151,936-token head dominates, as it does for the loss.
    "tiny": dict(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    "qwen2.5-0.5b": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
    ),
    "qwen2.5-1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
    ),
}
VOCAB = 151_936  # Qwen2.5's embedding rows


class PeakMemory:
    """Peak memory (bytes) above the level at entry, on CUDA or from /proc RSS on CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            self.start, self._max, self._stop = self._rss(), 0, False

            def sample():
                while not self._stop:
                    self._max = max(self._max, self._rss())
                    time.sleep(0.0002)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.start
        else:
            self._max = max(self._max, self._rss())
            self._stop = True
            self._thread.join()
            self.peak = self._max - self.start


def timed(fn, device, repeats: int) -> tuple[float, int]:
    """(median seconds, max peak bytes) over ``repeats`` calls after one warm-up."""
    fn()
    times, peaks = [], []
    for _ in range(repeats):
        with PeakMemory(device) as mem:
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        peaks.append(mem.peak)
    return statistics.median(times), max(peaks)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def build(shape: str, device, dtype):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        vocab_size=VOCAB,
        max_position_embeddings=4096,
        tie_word_embeddings=shape != "qwen2.5-1.5b",
        **SHAPES[shape],
    )
    torch.manual_seed(0)
    base = Qwen2ForCausalLM(cfg).to(device=device, dtype=dtype)
    base.generation_config.pad_token_id = 0
    # The separate-teacher baseline: a frozen copy of the base body, taken before LoRA exists.
    teacher_copy = copy.deepcopy(base.model).requires_grad_(False)
    lora = RgsdLoraConfig()
    model = get_peft_model(
        base,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            target_modules=lora.target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    return model, teacher_copy


def weight_bytes(module: torch.nn.Module) -> int:
    seen, total = set(), 0
    for p in module.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            total += p.numel() * p.element_size()
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default=None,
        help="default: tiny on CPU, qwen2.5-1.5b on GPU",
    )
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--response-len", type=int, default=None)
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    shape = args.shape or ("qwen2.5-1.5b" if cuda else "tiny")
    batch = args.batch or (8 if cuda else 2)
    resp = args.response_len or (512 if cuda else 96)
    torch.set_num_threads(args.threads)
    print(
        f"device={device} dtype={dtype} shape={shape} vocab={VOCAB} batch={batch} prompt={args.prompt_len} response={resp} chunk={args.chunk}"
    )

    model, teacher_copy = build(shape, device, dtype)
    body, head = model.get_base_model().model, model.get_base_model().lm_head
    gen = torch.Generator().manual_seed(0)
    s_prompt = torch.randint(10, VOCAB, (batch, args.prompt_len), generator=gen).to(device)
    # The teacher's prompt is the student's plus a rendered rubric (~48 tokens here).
    t_prompt = torch.cat(
        [torch.randint(10, VOCAB, (batch, 48), generator=gen).to(device), s_prompt], 1
    )
    response = torch.randint(10, VOCAB, (batch, resp), generator=gen).to(device)
    mask = torch.ones(batch, resp, device=device)

    # 1. Rollout throughput (fixed length: min_new_tokens forbids early EOS).
    def rollout():
        with torch.no_grad():
            model.generate(
                input_ids=s_prompt,
                attention_mask=torch.ones_like(s_prompt),
                do_sample=True,
                top_k=0,
                max_new_tokens=resp,
                min_new_tokens=resp,
                eos_token_id=None,
            )

    t_roll, m_roll = timed(rollout, device, max(1, args.repeats - 2))
    print(
        f"rollout: {batch * resp / t_roll:,.0f} tokens/s ({t_roll:.2f} s for {batch}x{resp}), peak +{mib(m_roll)}"
    )

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def hidden(m, prompt, grad):
        ids = torch.cat([prompt, response], 1)
        ctx = torch.enable_grad() if grad else torch.no_grad()
        with ctx:
            out = m(input_ids=ids).last_hidden_state
        return out[:, prompt.shape[1] - 1 : prompt.shape[1] - 1 + resp]

    def step(teacher_body=None, chunked=True):
        optimizer.zero_grad(set_to_none=True)
        if teacher_body is None:
            with model.disable_adapter():
                t_h = hidden(body, t_prompt, grad=False)
        else:
            t_h = hidden(teacher_body, t_prompt, grad=False)
        s_h = hidden(body, s_prompt, grad=True)
        if chunked:
            loss = chunked_divergence_loss(s_h, t_h, head, mask, chunk_size=args.chunk)
        else:
            with torch.no_grad():
                t_logits = head(t_h)
            loss = divergence_loss(head(s_h), t_logits, mask)
        loss.backward()
        optimizer.step()

    # 2. Training throughput of one RGSD step, chunked loss, shared-weight teacher.
    t_step, m_step = timed(step, device, args.repeats)
    print(
        f"train step (shared teacher, chunked): {batch * resp / t_step:,.0f} response tokens/s ({t_step:.2f} s), peak +{mib(m_step)}"
    )

    # 3. Loss only: chunked vs full materialisation, same hidden states.
    s_h = hidden(body, s_prompt, grad=False).detach().requires_grad_(True)
    with model.disable_adapter():
        t_h = hidden(body, t_prompt, grad=False)

    def loss_chunked():
        chunked_divergence_loss(s_h, t_h, head, mask, chunk_size=args.chunk).backward()

    def loss_full():
        with torch.no_grad():
            t_logits = head(t_h)
        divergence_loss(head(s_h), t_logits, mask).backward()

    t_full, m_full = timed(loss_full, device, args.repeats)
    t_chunk, m_chunk = timed(loss_chunked, device, args.repeats)
    print(f"loss fwd+bwd, full (B,R,V) logits: {t_full * 1e3:,.1f} ms, peak +{mib(m_full)}")
    print(f"loss fwd+bwd, chunked ({args.chunk}):   {t_chunk * 1e3:,.1f} ms, peak +{mib(m_chunk)}")
    print(
        f"chunked/full: time {t_chunk / t_full:.2f}x, peak memory {m_chunk / max(m_full, 1):.3f}x"
    )
    t_fstep, m_fstep = timed(lambda: step(chunked=False), device, args.repeats)
    print(
        f"train step, full-logits loss: {batch * resp / t_fstep:,.0f} tokens/s, peak +{mib(m_fstep)} "
        f"(chunked step / full step: time {t_step / t_fstep:.2f}x, peak {m_step / max(m_fstep, 1):.3f}x)"
    )

    # 4. Shared-weight teacher vs a separate frozen copy of the base.
    student_w = weight_bytes(model)
    copy_w = student_w + weight_bytes(teacher_copy)

    def step_copy():
        step(teacher_body=teacher_copy)

    t_copy, m_copy = timed(step_copy, device, args.repeats)
    print(
        f"weights: student {mib(student_w)}; shared teacher {mib(student_w)} ({student_w / student_w:.2f}x student); "
        f"separate copy {mib(copy_w)} ({copy_w / student_w:.2f}x student)"
    )
    print(
        f"step peak above weights: shared {mib(m_step)}, copy {mib(m_copy)}; "
        f"total shared/copy {(student_w + m_step) / (copy_w + m_copy):.2f}x; step time copy/shared {t_copy / t_step:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
