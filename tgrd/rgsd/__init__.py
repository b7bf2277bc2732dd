"""Rubric-Guided Self-Distillation: rubric tasks, divergences, trainer, baseline and evaluation.

``tgrd rgsd --config configs/rgsd_demo.yaml --out runs/rgsd`` runs the whole workflow
(tgrd/rgsd/workflow.py). Nothing heavy is imported here.
"""

# tgrd.config imports tgrd.rgsd.settings, which subclasses tgrd.config.StrictModel: loading the
# config module first makes ``import tgrd.rgsd.settings`` work whichever module is imported first.
import tgrd.config  # noqa: F401
