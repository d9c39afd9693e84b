"""The etcd side of the registry store: k8s.io/apiserver pkg/storage/etcd3/store.go over an
:class:`~kubesim.components.etcd.backend.EtcdBackend`.

Create is a txn on ``create_revision == 0``; an update or delete is a txn on the key's
``mod_revision`` that reads the key back when it lost a race, so the caller's function runs
again on the fresh state (``GuaranteedUpdate``, ``conditionalDelete``). Values are
:mod:`~kubesim.components.apiserver.storage.codec` bytes; every object read carries its
``mod_revision`` as resourceVersion. Failures raise the ``storage`` sentinels below, which the
registry store turns into the apiserver's Status errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesim.api.copying import deep_copy
from kubesim.components.apiserver.storage import codec
from kubesim.components.apiserver.storage.errors import etcd_failure
from kubesim.components.etcd.backend import EtcdBackend, Request, Response
from kubesim.components.etcd.errors import EtcdError

Obj = dict[str, Any]


class KeyNotFound(Exception):
    """storage.ErrCodeKeyNotFound."""


class KeyExists(Exception):
    """storage.ErrCodeKeyExists; ``existing`` is what holds the key."""

    def __init__(self, existing: Obj | None) -> None:
        super().__init__("key exists")
        self.existing = existing


class PreconditionFailed(Exception):
    """storage.ErrCodeInvalidObj from ``Preconditions.Check``; the message is upstream's."""


@dataclass(frozen=True)
class Preconditions:
    uid: str | None = None
    resource_version: str | None = None

    def check(self, obj: Obj) -> None:
        metadata = obj.get("metadata", {})
        if self.uid is not None and self.uid != metadata.get("uid", ""):
            raise PreconditionFailed(
                f"Precondition failed: UID in precondition: {self.uid}, "
                f"UID in object meta: {metadata.get('uid', '')}")
        if self.resource_version is not None and \
                self.resource_version != metadata.get("resourceVersion", ""):
            raise PreconditionFailed(
                f"Precondition failed: ResourceVersion in precondition: {self.resource_version}, "
                f"ResourceVersion in object meta: {metadata.get('resourceVersion', '')}")


@dataclass(frozen=True)
class State:
    """What a key holds: the object (with resourceVersion), its bytes and mod_revision."""

    obj: Obj
    data: bytes
    revision: int


class EtcdOps:
    """The etcd3 storage operations on one backend; remembers the highest revision seen."""

    def __init__(self, backend: EtcdBackend) -> None:
        self.backend = backend
        self.revision = 0

    def _seen(self, response: Response) -> Response:
        self.revision = max(self.revision, int(response["header"]["revision"]))
        return response

    async def call(self, op: str, req: Request) -> Response:
        """One etcd request; an etcd failure becomes the 500 the apiserver answers."""
        try:
            return self._seen(await getattr(self.backend, op)(req))
        except EtcdError as e:
            raise etcd_failure(e) from None

    async def get(self, key: bytes) -> State | None:
        resp = await self.call("range", {"key": key})
        return _state(resp["kvs"][0]) if resp["kvs"] else None

    async def create(self, key: bytes, obj: Obj) -> Obj:
        """Store ``obj`` under a free ``key``; KeyExists (with the holder) otherwise."""
        data = codec.encode(obj)
        resp = await self.call("txn", {
            "compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
            "success": [{"request_put": {"key": key, "value": data}}],
            "failure": [{"request_range": {"key": key}}],
        })
        if not resp["succeeded"]:
            kvs = resp["responses"][0]["response_range"]["kvs"]
            raise KeyExists(_state(kvs[0]).obj if kvs else None)
        return codec.decode(data, resp["header"]["revision"])

    async def guaranteed_update(
        self,
        key: bytes,
        try_update: Callable[[Obj | None], Obj],
        *,
        ignore_not_found: bool = False,
        preconditions: Preconditions | None = None,
        dry_run: bool = False,
        cached: State | None = None,
    ) -> Obj:
        """``GuaranteedUpdate``: ``try_update`` gets a copy of the current object (None when
        absent and ``ignore_not_found``) and returns the new one; it runs again whenever a
        concurrent write got there first. An unchanged object is not written.

        ``cached`` is the watch cache's state of the key (``cachedExistingObject``): the first
        attempt starts from it instead of reading etcd. If it was stale the write's compare
        fails and the loop goes on from what etcd returned; a precondition or ``try_update``
        error, or an unchanged object, seen on it is confirmed against etcd first."""
        state, current = (cached, False) if cached is not None else (await self.get(key), True)
        while True:
            if state is None and not ignore_not_found:
                raise KeyNotFound()
            try:
                if state is not None and preconditions is not None:
                    preconditions.check(state.obj)
                new = try_update(deep_copy(state.obj) if state is not None else None)
            except Exception:
                if current:
                    raise
                stale_revision = state.revision if state is not None else 0
                state, current = await self.get(key), True
                if state is not None and state.revision == stale_revision:
                    raise  # the cached state was current after all
                continue
            data = codec.encode(new)
            if state is not None and data == state.data:
                if not current:  # never answer a no-op from a state etcd may have moved past
                    state, current = await self.get(key), True
                    continue
                return state.obj
            if dry_run:
                return codec.with_version(new, state.revision) if state else new
            if state is None:
                compare = {"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": 0}
            else:
                compare = {"key": key, "target": "MOD", "result": "EQUAL",
                           "mod_revision": state.revision}
            resp = await self.call("txn", {
                "compare": [compare],
                "success": [{"request_put": {"key": key, "value": data}}],
                "failure": [{"request_range": {"key": key}}],
            })
            if resp["succeeded"]:
                return codec.decode(data, resp["header"]["revision"])
            kvs = resp["responses"][0]["response_range"]["kvs"]
            state, current = (_state(kvs[0]) if kvs else None), True

    async def delete(
        self,
        key: bytes,
        *,
        preconditions: Preconditions | None = None,
        validate: Callable[[Obj], None] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """``conditionalDelete``: delete what ``key`` holds if the preconditions hold for it;
        the deleted object, with the deletion's revision as resourceVersion."""
        state = await self.get(key)
        while True:
            if state is None:
                raise KeyNotFound()
            if preconditions is not None:
                preconditions.check(state.obj)
            if validate is not None:
                validate(state.obj)
            if dry_run:
                return state.obj
            resp = await self.call("txn", {
                "compare": [{"key": key, "target": "MOD", "result": "EQUAL",
                             "mod_revision": state.revision}],
                "success": [{"request_delete_range": {"key": key}}],
                "failure": [{"request_range": {"key": key}}],
            })
            if resp["succeeded"]:
                return codec.decode(state.data, resp["header"]["revision"])
            kvs = resp["responses"][0]["response_range"]["kvs"]
            state = _state(kvs[0]) if kvs else None


def _state(kv: dict[str, Any]) -> State:
    return State(codec.decode(kv["value"], kv["mod_revision"]), kv["value"], kv["mod_revision"])
