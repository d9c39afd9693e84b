"""The Status errors storage answers with, as kube-apiserver words them.

``storage.StorageError`` texts (k8s.io/apiserver pkg/storage/errors.go) reach clients inside
409s (a failed precondition), the list/continue 410 texts come from pkg/storage/etcd3/store.go,
and an etcd failure the registry does not interpret becomes what
``responsewriters.ErrorToAPIStatus`` makes of a non-Status error: 500, no reason, etcd's message.
"""

from __future__ import annotations

from kubesim.api import status
from kubesim.api.status import APIError
from kubesim.components.etcd.errors import EtcdError

INVALID_OBJ = 4  # storage.ErrCodeInvalidObj

LIST_EXPIRED = "The resourceVersion for the provided list is too old."
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token in "
    "this response to retrieve the remainder of the results. Continuing with the provided "
    "token results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def unconverted(message: str) -> APIError:
    """What ``ErrorToAPIStatus`` makes of an error that is not a Status: 500, no reason."""
    return APIError({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": message, "code": 500})


def etcd_failure(error: EtcdError) -> APIError:
    """A storage error no registry code interprets (e.g. ``etcdserver: request is too
    large``, ``etcdserver: request timed out``): 500 with etcd's message. An object over
    etcd's 1.5 MiB request limit (but under the apiserver's own 3 MiB body limit, which is a
    413) gets exactly ``{"status":"Failure","message":"etcdserver: request is too large",
    "code":500}`` from kube-apiserver (kubernetes/kubernetes#74600, still so per #112152)."""
    return unconverted(error.message)


def invalid_object(resource: str, name: str, key: bytes, detail: str, group: str = "") -> APIError:
    """``InterpretUpdateError`` of a ``storage.NewInvalidObjError`` (failed preconditions)."""
    cause = (f"StorageError: invalid object, Code: {INVALID_OBJ}, Key: {key.decode()}, "
             f"ResourceVersion: 0, AdditionalErrorMsg: {detail}")
    return status.conflict(resource, name, cause, group)


def too_large_resource_version(minimum: int, current: int, retry_after_seconds: int) -> APIError:
    """``storage.NewTooLargeResourceVersionError``: 504 with a ResourceVersionTooLarge cause."""
    err = status.timeout(f"Too large resource version: {minimum}, current: {current}",
                         retry_after_seconds)
    err.status.setdefault("details", {})["causes"] = [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
    return err


def continue_expired(fresh_token: str | None) -> APIError:
    """410 for a continue token whose revision was compacted; with a token to go on with
    at the latest revision when one can be made (``handleCompactedErrorForPaging``)."""
    if fresh_token is None:
        return status.resource_expired(CONTINUE_EXPIRED)
    err = status.resource_expired(INCONSISTENT_CONTINUE)
    err.status["metadata"] = {"continue": fresh_token}
    return err
