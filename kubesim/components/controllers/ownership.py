"""Adoption and release of dependents (pkg/controller/controller_ref_manager.go).

A controller owns the objects whose controller ownerReference carries its uid. Claiming
a list of candidates keeps the owned ones that still match its selector, releases owned
ones that no longer match (a patch deleting the ownerReference) and adopts orphans that
match (a patch adding it), unless the controller is itself being deleted. Before the first
adoption the controller is re-read from the apiserver (RecheckDeletionTimestamp), so a
controller deleted meanwhile does not adopt.
"""

from __future__ import annotations

from collections.abc import Callable

from kubesim.api import meta
from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient, Obj
from kubesim.components.controllers.pods import controller_ref

STRATEGIC = "application/strategic-merge-patch+json"


def owned_by(obj: Obj, uid: str) -> bool:
    ref = meta.controller_of(obj)
    return ref is not None and ref.get("uid") == uid


class ControllerRefManager:
    """ClaimPods / ClaimReplicaSets for one controller object."""

    def __init__(self, client: APIClient, controller: Obj, controller_resource: str,
                 match: Callable[[Obj], bool]) -> None:
        self.client = client
        self.controller = controller
        self.controller_resource = controller_resource
        self.match = match
        self._can_adopt: bool | None = None

    @property
    def uid(self) -> str:
        return self.controller["metadata"]["uid"]

    async def claim(self, resource: str, candidates: list[Obj]) -> list[Obj]:
        """The candidates this controller owns after adopting and releasing."""
        claimed: list[Obj] = []
        deleting = meta.is_being_deleted(self.controller)
        for obj in candidates:
            ref = meta.controller_of(obj)
            if ref is not None:
                if ref.get("uid") != self.uid:
                    continue
                if self.match(obj):
                    claimed.append(obj)
                elif not deleting:
                    await self._patch_ignoring_not_found(resource, obj, self._release_patch(obj))
                continue
            if deleting or not self.match(obj) or meta.is_being_deleted(obj):
                continue
            if obj["metadata"].get("namespace", "") != self.controller["metadata"].get("namespace", ""):
                continue
            if not await self._check_can_adopt():
                continue
            try:
                adopted = await self.client.patch(resource, obj["metadata"].get("namespace", ""),
                                                  obj["metadata"]["name"], self._adopt_patch(obj), STRATEGIC)
            except APIError as err:
                if err.code == 404:
                    continue
                raise
            claimed.append(adopted)
        return claimed

    async def _check_can_adopt(self) -> bool:
        if self._can_adopt is None:
            md = self.controller["metadata"]
            fresh = await self.client.get(self.controller_resource, md.get("namespace", ""), md["name"])
            self._can_adopt = fresh["metadata"].get("uid") == self.uid and not meta.is_being_deleted(fresh)
        return self._can_adopt

    def _adopt_patch(self, obj: Obj) -> Obj:
        return {"metadata": {"ownerReferences": [controller_ref(self.controller)],
                             "uid": obj["metadata"]["uid"]}}

    def _release_patch(self, obj: Obj) -> Obj:
        return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": self.uid}],
                             "uid": obj["metadata"]["uid"]}}

    async def _patch_ignoring_not_found(self, resource: str, obj: Obj, body: Obj) -> None:
        try:
            await self.client.patch(resource, obj["metadata"].get("namespace", ""),
                                    obj["metadata"]["name"], body, STRATEGIC)
        except APIError as err:
            if err.code not in (404, 422):
                raise
