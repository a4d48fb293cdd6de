"""PersistentVolumeClaims: bound at once to a volume named after the claim."""

from __future__ import annotations

from sandbox.controllers.base import ControllerBase
from sandbox.controllers.objects import (
    PVCS,
)


class VolumeController(ControllerBase):
    """PVC binding."""

    def sync_pvcs(self) -> None:
        for pvc in self.store.items(PVCS):
            if (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            volume = f"pvc-{pvc['metadata']['uid']}"
            pvc = self._set_meta(PVCS, pvc, lambda o, v=volume: o.setdefault("spec", {}).update(volumeName=v))
            spec = pvc.get("spec") or {}
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            status = {
                "phase": "Bound",
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": storage},
            }
            self.store.set_status(PVCS, pvc, status)
