"""The distilled student (TGRD step 3) and dataset scoring (step 4).

Commands: ``tgrd distill --config configs/student_smoke.yaml --gated G --labels L --out DIR``
and ``tgrd score --config configs/student_smoke.yaml --candidates PATH... --student DIR --out DIR``.
Modules: settings (config sections), model (builder, rendering, save/load), data (examples,
splits, batches), engine (PyTorch/DDP or DeepSpeed step), evaluate (metrics), train (the loop),
ray_train (Ray Train), training_record (model card, curves), distill (the stage), predict
(batch inference), score (sampling, gates, DVS).
"""
