"""client-go's event recorder (tools/record): core/v1 Events about an object, written in
the background, with the EventCorrelator's aggregation of repeats.

`EventRecorder(client, ctx, component, now)` writes `recorder.event(obj, "Normal",
"SuccessfulCreate", "Created pod: web-abcde")` as an Event named `<name>.<hex ns>` in the
object's namespace ("default" for cluster-scoped objects). An event identical to one
already written (same object, type, reason, message and source) is not written again: the
existing Event's `count` goes up and its `lastTimestamp` moves (a PATCH), as the
correlator's EventLogger does. Failures are dropped, as the broadcaster drops them after
its retries. The cache of written events is bounded (maxLruCacheEntries = 4096).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from kubesim.api import meta
from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient, Obj
from kubesim.runtime.context import Context
from kubesim.runtime.errors import RuntimeErrorBase

MAX_CACHE_ENTRIES = 4096
MERGE_PATCH = "application/merge-patch+json"


def object_reference(obj: Obj) -> Obj:
    """ref.GetReference: the involvedObject of an Event."""
    md = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "namespace": md.get("namespace", ""),
           "name": md.get("name", ""), "uid": md.get("uid", ""),
           "apiVersion": obj.get("apiVersion", ""), "resourceVersion": md.get("resourceVersion", "")}
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """record.EventRecorder for one component (e.g. "deployment-controller")."""

    def __init__(self, client: APIClient, ctx: Context, component: str,
                 now: Callable[[], float]) -> None:
        self.client = client
        self.ctx = ctx
        self.component = component
        self.now = now
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        self._seq = 0

    def event(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        ref = object_reference(obj)
        key = (self.component, ref.get("kind", ""), ref.get("namespace", ""), ref.get("name", ""),
               ref.get("uid", ""), ref.get("apiVersion", ""), event_type, reason, message)
        self.ctx.spawn(self._write(key, ref, event_type, reason, message))

    async def _write(self, key: tuple[str, ...], ref: Obj, event_type: str, reason: str,
                     message: str) -> None:
        stamp = meta.timestamp(self.now())
        namespace = ref.get("namespace") or "default"
        try:
            seen = self._seen.get(key)
            if seen is not None:
                name, ns, count = seen
                self._seen[key] = (name, ns, count + 1)
                self._seen.move_to_end(key)
                await self.client.patch("events", ns, name,
                                        {"count": count + 1, "lastTimestamp": stamp}, MERGE_PATCH)
                return
            self._seq += 1  # events written at one simulated instant still get distinct names
            name = f"{ref.get('name', '')}.{int(self.now() * 1e9) + self._seq:x}"
            self._seen[key] = (name, namespace, 1)
            if len(self._seen) > MAX_CACHE_ENTRIES:
                self._seen.popitem(last=False)
            await self.client.create("events", {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": ref, "reason": reason, "message": message,
                "source": {"component": self.component},
                "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
                "type": event_type, "eventTime": None,
                "reportingComponent": self.component, "reportingInstance": "",
            }, namespace)
        except (APIError, RuntimeErrorBase):
            self._seen.pop(key, None)
