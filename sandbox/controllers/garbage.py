"""Garbage collection: dependents whose owners are gone."""

from __future__ import annotations

from sandbox.controllers.base import ControllerBase
from sandbox.resources import BY_KEY


class GarbageCollector(ControllerBase):
    """Owner-reference garbage collection."""

    def collect_garbage(self) -> None:
        """Delete dependents whose owners are gone, cascading (deployment -> replicasets -> pods) in one tick."""
        removed = True
        while removed:
            removed = False
            uids = self.store.all_uids()
            for rt in BY_KEY.values():
                for obj in self.store.items(rt):
                    refs = obj["metadata"].get("ownerReferences") or []
                    if refs and not any(r.get("uid") in uids for r in refs):
                        self.store.remove(rt, obj)
                        self.started.pop(obj["metadata"]["uid"], None)
                        removed = True
