"""Shared fixtures: one local Ray per test session, paths to ../shared/data, tiny assets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TGRD_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
ASSETS = Path(__file__).resolve().parent / "assets"

# Ray 2.60 turns token auth on by default; local tests opt out (ENVIRONMENT.md).
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Ray Train reports cost ~2 s each with the default health-check interval (ENVIRONMENT.md).
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray started once for the whole session (2 CPUs, no dashboard)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA} (set TGRD_SHARED_DATA)")
    return SHARED_DATA
