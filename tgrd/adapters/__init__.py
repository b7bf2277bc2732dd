"""Real-data adapters: public datasets → canonical records and benchmark items.

    from tgrd.adapters.gsm8k import gsm8k_records, gsm8k_benchmark, gsm8k_model_solution_records
    from tgrd.adapters.humaneval import load_problems, problem_records
    from tgrd.adapters.tatqa import tatqa_examples

Each adapter reads the files as published (paths in ../shared/data/MANIFEST.md), fails with the
file and line of a bad row, and writes nothing itself: :func:`tgrd.adapters.io.write_jsonl`
does, so a user can mix real sources into candidate datasets.
"""
