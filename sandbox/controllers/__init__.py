"""The control loop: deployments -> replicasets -> pods, statefulsets, daemonsets, jobs, a kubelet, endpoints,
PVC binding and garbage collection. One `tick()` runs every ~150 ms on the server's event loop.

One module per controller; `Controller` composes them and runs the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sandbox.controllers.deployments import DeploymentController
from sandbox.controllers.garbage import GarbageCollector
from sandbox.controllers.pods import KubeletController
from sandbox.controllers.seed import seed_cluster
from sandbox.controllers.services import EndpointController
from sandbox.controllers.volumes import VolumeController
from sandbox.controllers.workloads import WorkloadController

log = logging.getLogger("sandbox.controller")

TICK_SECONDS = 0.1
MAX_SETTLE_TICKS = 5  # ticks run back to back while they keep changing state

__all__ = ["Controller", "seed_cluster"]


class Controller(
    DeploymentController,
    WorkloadController,
    KubeletController,
    EndpointController,
    VolumeController,
    GarbageCollector,
):
    """The control loop: every tick runs each controller's sync step in dependency order."""

    def poke(self) -> None:
        """Run the next tick now: called after client writes so rollouts don't wait for the timer."""
        self.wake.set()

    async def run(self) -> None:
        while True:
            for _ in range(MAX_SETTLE_TICKS):
                before = self.store.rv
                try:
                    self.tick()
                except Exception:  # a bug in one tick must not stop the cluster
                    log.exception("controller tick failed")
                if self.store.rv == before:
                    break
                await asyncio.sleep(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), TICK_SECONDS)
            self.wake.clear()

    def tick(self) -> None:
        for step in (
            self.sync_deployments,
            self.sync_replicasets,
            self.sync_statefulsets,
            self.sync_daemonsets,
            self.sync_jobs,
            self.sync_pods,
            self.sync_endpoints,
            self.sync_pvcs,
            self.collect_garbage,
        ):
            step()
