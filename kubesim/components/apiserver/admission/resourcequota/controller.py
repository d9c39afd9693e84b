"""The quota evaluator: admissions of one namespace are checked together, one batch at a
time, and the changed quotas are written once per batch with optimistic concurrency.

After ``quotaEvaluator`` in ``kubernetes/plugin/pkg/admission/resourcequota/controller.go``.
Requests for a namespace queue while a batch for it is being checked; the next batch
takes everything queued. Within a batch each request is checked against the usage the
requests before it already charged, so two requests racing for the last slot cannot both
fit. The charged quotas are then written with their resourceVersion as precondition; a
conflict (another apiserver charged the same quota) re-reads the failed quotas and
re-checks the batch against them, at most 3 more times, after which the requests still
waiting fail with the conflict.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kubesim.api import status
from kubesim.components.apiserver.admission import resource_lists as rl
from kubesim.components.apiserver.admission.attributes import Attributes
from kubesim.components.apiserver.admission.interfaces import ActorContext
from kubesim.components.apiserver.admission.resourcequota.accessor import QuotaAccessor
from kubesim.components.apiserver.admission.resourcequota.check import QuotaDoc, check_request
from kubesim.components.apiserver.admission.resourcequota.evaluators import (
    IGNORED_RESOURCES,
    Registry,
)

UPDATE_RETRIES = 3


class _DefaultDeny:
    """``defaultDeny``: the result of a request whose charge has not been written yet."""


_DEFAULT_DENY = _DefaultDeny()


@dataclass
class _Waiter:
    """``admissionWaiter``."""

    attrs: Attributes
    future: asyncio.Future[None]
    result: Exception | _DefaultDeny | None = field(default=_DEFAULT_DENY)

    def finish(self) -> None:
        if self.future.done():  # the request was cancelled
            return
        if self.result is None:
            self.future.set_result(None)
        elif isinstance(self.result, _DefaultDeny):
            self.future.set_exception(status.internal("DEFAULT DENY"))
        else:
            self.future.set_exception(self.result)


class QuotaEvaluator:
    """``Evaluate(attributes)``: returns when admitted, raises the error otherwise."""

    def __init__(self, accessor: QuotaAccessor, ctx: ActorContext):
        self._accessor = accessor
        self._ctx = ctx
        self._registry = Registry()
        self._queued: dict[str, list[_Waiter]] = {}
        self._in_progress: set[str] = set()  # membership only, never iterated

    async def evaluate(self, attrs: Attributes) -> None:
        if attrs.group_resource in IGNORED_RESOURCES:
            return
        if not self._registry.get(attrs.group_resource).handles(attrs):
            return
        waiter = _Waiter(attrs, asyncio.get_running_loop().create_future())
        self._queued.setdefault(attrs.namespace, []).append(waiter)
        if attrs.namespace not in self._in_progress:
            self._in_progress.add(attrs.namespace)
            self._ctx.spawn(self._work(attrs.namespace))
        await waiter.future

    async def _work(self, namespace: str) -> None:
        """Check the namespace's queued batches until none is left."""
        try:
            while batch := self._queued.pop(namespace, None):
                try:
                    await self._check_attributes(namespace, batch)
                except asyncio.CancelledError:
                    for waiter in batch:
                        waiter.future.cancel()
                    raise
                except Exception as err:  # handed to the waiting requests
                    for waiter in batch:
                        waiter.result = err
                for waiter in batch:
                    waiter.finish()
        finally:
            self._in_progress.discard(namespace)

    async def _check_attributes(self, namespace: str, batch: list[_Waiter]) -> None:
        quotas = await self._accessor.get_quotas(namespace)
        if not quotas:
            for waiter in batch:
                waiter.result = None
            return
        await self._check_quotas(quotas, batch, UPDATE_RETRIES)

    async def _check_quotas(self, quotas: list[QuotaDoc], batch: list[_Waiter], retries: int) -> None:
        """``checkQuotas``: charge each request in turn, write the changed quotas, retry conflicts."""
        original = quotas
        changed = False
        for waiter in batch:
            try:
                charged = check_request(quotas, waiter.attrs,
                                        self._registry.get(waiter.attrs.group_resource))
            except status.APIError as err:
                waiter.result = err
                continue
            if waiter.attrs.dry_run:
                waiter.result = None
                continue
            if all(rl.equals(a.used, b.used) for a, b in zip(quotas, charged, strict=True)):
                waiter.result = None  # no quota applies to it
            else:
                changed = True
            quotas = charged
        if not changed:
            return

        failed: list[QuotaDoc] = []
        last_error: Exception | None = None
        for before, after in zip(original, quotas, strict=True):
            if rl.equals(before.used, after.used):
                continue
            try:
                await self._accessor.update_quota_status(after)
            except Exception as err:  # a failed write is retried or reported
                failed.append(after)
                last_error = err
        if not failed:
            for waiter in batch:
                if waiter.result is _DEFAULT_DENY:
                    waiter.result = None
            return
        if retries <= 0:
            self._fail_waiting(batch, last_error)
            return
        try:
            fresh = await self._accessor.get_quotas(quotas[0].namespace)
        except status.APIError:
            self._fail_waiting(batch, last_error)
            return
        failed_names = [quota.name for quota in failed]
        await self._check_quotas([q for q in fresh if q.name in failed_names], batch, retries - 1)

    @staticmethod
    def _fail_waiting(batch: list[_Waiter], error: Exception | None) -> None:
        for waiter in batch:
            if waiter.result is _DEFAULT_DENY:
                waiter.result = error
