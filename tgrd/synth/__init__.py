"""Synthetic DataChef-like benchmark: two tasks (code, finqa), a training pool, K candidate
datasets built by recipes of planted defects, and a held-out benchmark per task.

    tgrd synth --config configs/synth_demo.yaml --out runs/synth

Modules: settings (config section), problem (one problem and its response variants),
code_tasks / finqa_tasks (problem generators), defects (how responses and lines are spoiled),
recipes (category mixtures and rubric classes), generate (writes everything).
"""
