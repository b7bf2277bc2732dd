"""The demo's char GPT: it learns, and KV-cache greedy decoding equals uncached decoding."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tgrd.downstream.chargpt import EOS, CharGPT, CharVocab, GPTShape, count_parameters, fit  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    # Two intra-op threads on a shared 2-core machine are slower than one.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PAIRS = [
    ("Fig: sales 6, costs 3. Profit?", "6-3=3"),
    ("Iris: Q1 6, Q2 5. Total?", "6+5=11"),
    ("Kite: price 4, units 2. Revenue?", "4*2=8"),
]


def test_default_shape_is_about_110k_parameters():
    n = count_parameters(CharGPT(GPTShape(), CharVocab().size))
    assert 90_000 < n < 140_000


def test_answer_only_mask_covers_answer_and_eos():
    vocab = CharVocab()
    ids, mask = vocab.encode_pairs([("ab", "xy")], block=96)
    # BOS a b SEP x y EOS: targets x, y, EOS are predicted from positions 3, 4, 5.
    assert mask[0].nonzero().flatten().tolist() == [3, 4, 5]
    assert ids[0, 6].item() == EOS
    _, full = vocab.encode_pairs([("ab", "xy")], block=96, answer_loss_only=False)
    assert full[0].sum().item() == 6


def test_loss_drops_and_model_memorises():
    torch.manual_seed(0)
    vocab = CharVocab()
    model = CharGPT(GPTShape(n_layer=1, n_embd=32, n_head=2, block_size=48), vocab.size)
    losses = fit(model, vocab, PAIRS, steps=150, lr=1e-2, batch_size=8, seed=0)
    assert sum(losses[-10:]) / 10 < 0.25 * sum(losses[:10]) / 10
    assert model.generate(vocab, [p for p, _ in PAIRS], max_new=12) == [a for _, a in PAIRS]


def test_kv_cache_equals_no_cache_and_batching_is_transparent():
    torch.manual_seed(1)
    vocab = CharVocab()
    # Random init: near-uniform logits give long generations, which exercise many cached steps.
    model = CharGPT(GPTShape(), vocab.size)
    prompts = ["x", 'def f(a):\n    """a plus two"""\n', "Cora: 2022 5, 2023 6. Change?"]
    cached = model.generate(vocab, prompts, max_new=30, use_cache=True)
    uncached = model.generate(vocab, prompts, max_new=30, use_cache=False)
    assert cached == uncached
    # Left padding must not change a prompt's answer: alone == in a batch.
    assert [model.generate(vocab, [p], max_new=30)[0] for p in prompts] == cached
    assert any(len(a) > 5 for a in cached)  # the comparison is over real generations
