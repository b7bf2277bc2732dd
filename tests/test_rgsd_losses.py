"""Divergences of tgrd/rgsd/losses.py against a float64 reference written from the definitions."""

from __future__ import annotations

import pytest
import torch

from tgrd.rgsd.losses import chunked_divergence_loss, divergence_loss, token_divergence


def reference(student: torch.Tensor, teacher: torch.Tensor, kind: str, beta: float) -> torch.Tensor:
    """Per-token divergence from explicit probabilities in float64 (no log-space tricks)."""
    s = torch.softmax(student.double(), -1)
    t = torch.softmax(teacher.double(), -1)

    def kl(p, q):
        return (p * (p.log() - q.log())).sum(-1)

    if kind == "forward_kl":
        return kl(t, s)
    if kind == "reverse_kl":
        return kl(s, t)
    m = beta * t + (1 - beta) * s
    return beta * kl(t, m) + (1 - beta) * kl(s, m)


CASES = [("reverse_kl", 0.5), ("forward_kl", 0.5), ("jsd", 0.5), ("jsd", 0.1), ("jsd", 0.9)]


@pytest.mark.parametrize(("kind", "beta"), CASES)
def test_token_divergence_matches_float64_reference(kind, beta):
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(3, 7, 50, generator=gen) * 3
    teacher = torch.randn(3, 7, 50, generator=gen) * 3
    got = token_divergence(student, teacher, kind, beta)
    want = reference(student, teacher, kind, beta)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-5)
    assert (got >= -1e-6).all()


def test_divergences_are_zero_for_identical_and_asymmetric_otherwise():
    logits = torch.randn(2, 5, 30)
    for kind in ("reverse_kl", "forward_kl", "jsd"):
        assert token_divergence(logits, logits, kind).abs().max() < 1e-5
    other = torch.randn(2, 5, 30) * 2
    fwd = token_divergence(logits, other, "forward_kl")
    rev = token_divergence(logits, other, "reverse_kl")
    assert (fwd - rev).abs().max() > 1e-3


def test_jsd_endpoints_follow_trl_convention():
    s, t = torch.randn(4, 20), torch.randn(4, 20)
    torch.testing.assert_close(
        token_divergence(s, t, "jsd", 0.0), token_divergence(s, t, "forward_kl")
    )
    torch.testing.assert_close(
        token_divergence(s, t, "jsd", 1.0), token_divergence(s, t, "reverse_kl")
    )


@pytest.mark.parametrize(("kind", "beta"), CASES)
def test_masked_mean_matches_reference(kind, beta):
    gen = torch.Generator().manual_seed(1)
    student = torch.randn(2, 6, 40, generator=gen)
    teacher = torch.randn(2, 6, 40, generator=gen)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    want = reference(student, teacher, kind, beta)[mask.bool()].mean()
    got = divergence_loss(student, teacher, mask, kind, beta)
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-6)
    # Padding must not leak: changing masked logits changes nothing.
    student2 = student.clone()
    student2[0, 4] += 100.0
    torch.testing.assert_close(divergence_loss(student2, teacher, mask, kind, beta), got)


@pytest.mark.parametrize("kind", ["reverse_kl", "forward_kl", "jsd"])
@pytest.mark.parametrize("chunk", [1, 3, 8, 64])
def test_chunked_equals_unchunked_value_and_gradient(kind, chunk):
    gen = torch.Generator().manual_seed(2)
    head = torch.nn.Linear(16, 45, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.randn(45, 16, generator=gen))
    s_h = torch.randn(3, 10, 16, generator=gen, requires_grad=True)
    t_h = torch.randn(3, 10, 16, generator=gen)
    mask = (torch.rand(3, 10, generator=gen) > 0.3).long()
    mask[:, 0] = 1

    full = divergence_loss(head(s_h), head(t_h), mask, kind, 0.3)
    (g_full,) = torch.autograd.grad(full, s_h)
    chunked = chunked_divergence_loss(s_h, t_h, head, mask, kind, 0.3, chunk_size=chunk)
    (g_chunk,) = torch.autograd.grad(chunked, s_h)
    torch.testing.assert_close(chunked, full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_chunk, g_full, rtol=1e-4, atol=1e-6)
    # Teacher side is a constant: no gradient path into the teacher's hidden states.
    t_req = t_h.clone().requires_grad_(True)
    loss = chunked_divergence_loss(s_h, t_req, head, mask, kind, 0.3, chunk_size=chunk)
    loss.backward()
    assert t_req.grad is None


def test_bad_arguments_raise():
    s = torch.randn(2, 5)
    with pytest.raises(ValueError, match="divergence kind"):
        token_divergence(s, s, "kl")
    with pytest.raises(ValueError, match="beta"):
        token_divergence(s, s, "jsd", 1.5)
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_divergence_loss(
            torch.randn(1, 2, 3),
            torch.randn(1, 2, 3),
            torch.nn.Linear(3, 4),
            torch.ones(1, 2),
            chunk_size=0,
        )
