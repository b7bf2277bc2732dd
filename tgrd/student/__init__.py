"""The distilled student (TGRD step 3) and dataset scoring (step 4): see tgrd/student/*.py.

tgrd distill --config configs/student_smoke.yaml --gated G --labels L --out DIR
tgrd score --config configs/student_smoke.yaml --candidates DIR... --student DIR --out DIR
"""

# tgrd.config composes tgrd.student.settings into its schema; importing the config first means
# `from tgrd.student.settings import ...` works even when it is the first tgrd import (Ray workers).
import tgrd.config  # noqa: F401
