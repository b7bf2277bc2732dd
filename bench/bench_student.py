"""Student throughput: LoRA training tokens/s + MFU, and scoring instances/s with vs without
length bucketing. Torch only (no Ray): the numbers are the kernel's, not the cluster's.

    python bench/bench_student.py                          # tiny Qwen2 on CPU (seconds)
    python bench/bench_student.py --preset qwen2.5-1.5b    # the paper's student shape, GPU bf16

The model is a random-init ``Qwen2ForSequenceClassification`` of the chosen shape with a LoRA
adapter on all linear layers (weights do not change the cost). FLOPs per trained token:
``4·N + 12·L·T·H`` (N = non-embedding weights; forward 2N plus activation gradients 2N — the
frozen base gets no weight gradients; attention scores and values 4·L·T·H forward, twice that
backward). Scoring: ``2·N + 4·L·T·H`` per real (non-pad) token. MFU is against the peak
measured in the same run by a large matmul in the same dtype (on GPU also against the
datasheet dense bf16 peak). Scoring lengths follow a log-normal (many short instances, a long
tail), the shape of chat datasets; the ratio printed is bucketed / unbucketed instances/s.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

PRESETS = {
    # hidden, layers, heads, kv heads, intermediate, vocab
    "tiny": (64, 2, 4, 2, 128, 151_665),
    "qwen2.5-1.5b": (1536, 28, 12, 2, 8960, 151_936),
}
DATASHEET_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def build(preset: str, r: int, device: str, dtype):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForSequenceClassification

    h, layers, heads, kv, inter, vocab = PRESETS[preset]
    cfg = Qwen2Config(
        vocab_size=vocab,
        hidden_size=h,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        intermediate_size=inter,
        num_labels=3,
        pad_token_id=0,
        max_position_embeddings=4096,
    )
    torch.manual_seed(0)
    model = Qwen2ForSequenceClassification(cfg).to(device=device, dtype=dtype)
    n = sum(p.numel() for name, p in model.named_parameters() if "embed_tokens" not in name)
    model = get_peft_model(
        model, LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", task_type="SEQ_CLS")
    )
    return model, n, layers, h


def matmul_peak(device: str, dtype, size: int) -> float:
    """FLOP/s of a large square matmul: the attainable peak on this device and dtype."""
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    for _ in range(2):
        a @ b
    sync(device)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        a @ b
        reps += 1
    sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - t0)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_train(model, n, layers, h, device, amp, batch, seq, steps) -> tuple[float, float]:
    """(tokens/s, FLOP/s) of LoRA training on full-length random batches."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randint(1, 1000, (batch, seq), device=device)
    y = torch.randint(0, 3, (batch,), device=device)
    model.train()

    def step():
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(input_ids=x).logits.float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    tokens = batch * seq * steps / (time.perf_counter() - t0)
    return tokens, tokens * (4 * n + 12 * layers * seq * h)


def bench_score(model, n, layers, h, device, amp, lengths, batch, bucketing) -> tuple[float, float]:
    """(instances/s, useful FLOP/s) of inference over ``lengths``; pads to the batch maximum."""
    order = np.argsort(lengths, kind="stable") if bucketing else np.arange(len(lengths))
    model.eval()
    flops = float(sum((2 * n + 4 * layers * t * h) * t for t in lengths))
    sync(device)
    t0 = time.perf_counter()
    with (
        torch.inference_mode(),
        torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=amp),
    ):
        for s in range(0, len(order), batch):
            sel = lengths[order[s : s + batch]]
            x = torch.zeros((len(sel), int(sel.max())), dtype=torch.long, device=device)
            mask = torch.zeros_like(x)
            for i, t in enumerate(sel):
                x[i, :t] = 7
                mask[i, :t] = 1
            model(input_ids=x, attention_mask=mask).logits.float().cpu()
    sync(device)
    secs = time.perf_counter() - t0
    return len(lengths) / secs, flops / secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="default: qwen2.5-1.5b on GPU, tiny on CPU",
    )
    ap.add_argument("--lora-r", type=int, default=64)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--seq", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--instances", type=int, default=None)
    args = ap.parse_args()
    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    preset = args.preset or ("qwen2.5-1.5b" if gpu else "tiny")
    big = preset != "tiny"
    batch, seq = args.batch or (16 if big else 32), args.seq or (1024 if big else 128)
    steps, count = args.steps or 10, args.instances or (2048 if big else 256)
    dtype = torch.float32  # master weights fp32; bf16 autocast on GPU
    model, n, layers, h = build(preset, args.lora_r, device, dtype)
    peak = matmul_peak(device, torch.bfloat16 if gpu else torch.float32, 8192 if gpu else 1024)
    name = torch.cuda.get_device_name() if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(
        f"device {name}; preset {preset}: {n / 1e6:.2f}M non-embedding weights, LoRA r={args.lora_r}, "
        f"{'bf16 autocast' if gpu else 'fp32'}; measured matmul peak {peak / 1e12:.3f} TFLOP/s"
    )
    tok_s, fl = bench_train(model, n, layers, h, device, gpu, batch, seq, steps)
    print(
        f"train  batch {batch} x {seq} tokens: {tok_s:,.0f} tokens/s, {fl / 1e12:.3f} TFLOP/s, "
        f"MFU {fl / peak:.1%} of measured peak"
    )
    for key, datasheet in DATASHEET_BF16.items():
        if gpu and key in name:
            print(
                f"       MFU {fl / datasheet:.1%} of {key} datasheet dense bf16 ({datasheet / 1e12:.0f} TFLOP/s)"
            )
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(math.log(seq / 4), 0.8, size=count), 8, seq).astype(int)
    plain = bench_score(model, n, layers, h, device, gpu, lengths, batch * 4, bucketing=False)
    bucketed = bench_score(model, n, layers, h, device, gpu, lengths, batch * 4, bucketing=True)
    for label, (ips, fl) in (("unbucketed", plain), ("bucketed", bucketed)):
        print(
            f"score  {label:<10} {count} instances (mean {lengths.mean():.0f} tokens): {ips:,.1f} instances/s, "
            f"{fl / peak:.1%} of measured peak (useful FLOPs)"
        )
    print(f"ratio  bucketed / unbucketed scoring throughput: {bucketed[0] / plain[0]:.2f}x")


if __name__ == "__main__":
    main()
