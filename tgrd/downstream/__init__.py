"""Ground truth for the verifiers: downstream fine-tunes on Ray Tune, DBS, score-map calibration.

Modules: :mod:`~tgrd.downstream.settings` (the ``downstream:`` and ``calibrate:`` config
sections), :mod:`~tgrd.downstream.chargpt` (the demo's tiny char GPT), :mod:`~tgrd.downstream.pretrain`
(its cached per-seed base), :mod:`~tgrd.downstream.hflora` (paper scale: LoRA on a local causal
LM), :mod:`~tgrd.downstream.finetune` (one fine-tune + benchmark score),
:mod:`~tgrd.downstream.codebench` (sandboxed pass@1), :mod:`~tgrd.downstream.sweep` (the Ray Tune
grid), :mod:`~tgrd.downstream.dbs` (DBS and seed spread), :mod:`~tgrd.downstream.calibrate` and
:mod:`~tgrd.downstream.mapsearch` (cross-validated score-map search). CLI: ``tgrd groundtruth``,
``tgrd calibrate``.
"""

from __future__ import annotations

import zlib


def stable_seed(*parts: object) -> int:
    """A seed from crc32 of ``parts``: identical in every process (``hash()`` is salted)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode("utf-8"))
