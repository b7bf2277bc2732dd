"""Start or join Ray for a job: local single-node mode by default, a cluster when configured.

    from tgrd.raysession import ensure_ray
    ensure_ray(cfg.ray)   # no-op if Ray is already initialised (tests, ``ray job submit``)

Under ``ray job submit`` the driver is started by the cluster and ``RAY_ADDRESS`` is set, so
``ray.init()`` joins that cluster; locally it starts a private single-node Ray.
"""

from __future__ import annotations

import os

from tgrd.config import RayConfig


def ensure_ray(cfg: RayConfig) -> None:
    """Initialise Ray once per process with the configured address and resources."""
    import ray

    if ray.is_initialized():
        return
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    if address is None:
        # A private local Ray: token auth (on by default since Ray 2.5x) only gets in the way
        # of a single-user laptop run; clusters keep whatever their operator configured.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(
            num_cpus=cfg.num_cpus, include_dashboard=cfg.include_dashboard, log_to_driver=False
        )
    else:
        ray.init(address=address, log_to_driver=False)
    # Progress bars interleave badly with our own progress lines in job logs.
    ray.data.DataContext.get_current().enable_progress_bars = False
