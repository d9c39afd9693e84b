"""metav1.Status builders with the real apiserver messages, and the APIError exception.

Every builder returns an :class:`APIError` whose ``status`` is the dict the apiserver
serves, e.g.::

    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
     "message": "pods \\"x\\" not found", "reason": "NotFound",
     "details": {"name": "x", "kind": "pods"}, "code": 404}

``resource`` arguments are plural resource names; ``group`` is the API group ("" for core),
rendered as ``deployments.apps`` the way ``schema.GroupResource.String()`` does.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import field


class APIError(Exception):
    """An error the apiserver answers with a metav1.Status body and its HTTP code."""

    def __init__(self, status: dict[str, Any]):
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        return int(self.status["code"])

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))

    @property
    def message(self) -> str:
        return str(self.status.get("message", ""))


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> APIError:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure"}
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return APIError(body)


def _details(name: str = "", group: str = "", kind: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (("name", name), ("group", group), ("kind", kind), *extra.items()):
        if value:
            out[key] = value
    return out


def qualified(resource: str, group: str = "") -> str:
    """``GroupResource.String()`` (also ``GroupKind.String()``): ``resource[.group]``."""
    return f"{resource}.{group}" if group else resource


def success(name: str = "", group: str = "", kind: str = "", uid: str = "") -> dict[str, Any]:
    """The ``Status: Success`` body a DELETE answers with for resources that return one."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Success"}
    details = _details(name, group, kind, uid=uid)
    if details:
        body["details"] = details
    return body


def bad_request(message: str) -> APIError:
    return _status(400, "BadRequest", message)


def cannot_handle(kind: str, version: str, cause: str) -> APIError:
    """400 for a body that does not decode, e.g. a malformed quantity or base64 value."""
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {cause}')


def unauthorized(message: str = "Unauthorized") -> APIError:
    return _status(401, "Unauthorized", message)


def forbidden(resource: str, name: str, message: str, group: str = "") -> APIError:
    """403; e.g. ``pods "x" is forbidden: unable to create new content in namespace ...``."""
    if not resource:
        text = f"forbidden: {message}"
    elif not name:
        text = f"{qualified(resource, group)} is forbidden: {message}"
    else:
        text = f'{qualified(resource, group)} "{name}" is forbidden: {message}'
    return _status(403, "Forbidden", text, _details(name, group, resource))


def not_found(resource: str, name: str, group: str = "") -> APIError:
    return _status(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                   _details(name, group, resource))


def method_not_supported(resource: str, action: str, group: str = "") -> APIError:
    message = f'{action} is not supported on resources of kind "{qualified(resource, group)}"'
    return _status(405, "MethodNotAllowed", message, _details("", group, resource))


def already_exists(resource: str, name: str, group: str = "") -> APIError:
    return _status(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                   _details(name, group, resource))


OBJECT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(resource: str, name: str, cause: str = OBJECT_MODIFIED, group: str = "") -> APIError:
    message = f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {cause}'
    return _status(409, "Conflict", message, _details(name, group, resource))


def gone(requested: int, oldest: int) -> APIError:
    """410 for a watch or list from a compacted revision: ``too old resource version: 5 (10)``."""
    return resource_expired(f"too old resource version: {requested} ({oldest})")


def resource_expired(message: str) -> APIError:
    return _status(410, "Expired", message)


def request_entity_too_large(message: str) -> APIError:
    return _status(413, "RequestEntityTooLarge", f"Request entity too large: {message}")


def unsupported_media_type(accepted: list[str]) -> APIError:
    message = ("the body of the request was in an unknown format - accepted media types include: "
               + ", ".join(accepted))
    return _status(415, "UnsupportedMediaType", message)


def invalid(kind: str, name: str, errors: field.ErrorList, group: str = "") -> APIError:
    """422 ``Pod "x" is invalid: <errors>``; ``details.causes`` has one entry per field error."""
    label = f'{qualified(kind, group)} "{name}" is invalid'
    message = f"{label}: {field.aggregate(errors)}" if errors else label
    details = _details(name, group, kind)
    if errors:
        details["causes"] = [err.cause() for err in errors]
    return _status(422, "Invalid", message, details)


def too_many_requests(message: str, retry_after_seconds: int) -> APIError:
    return _status(429, "TooManyRequests", message, _details(retryAfterSeconds=retry_after_seconds))


def internal(message: str) -> APIError:
    return _status(500, "InternalError", f"Internal error occurred: {message}",
                   {"causes": [{"message": message}]})


def service_unavailable(message: str) -> APIError:
    return _status(503, "ServiceUnavailable", message)


def timeout(message: str, retry_after_seconds: int = 0) -> APIError:
    return _status(504, "Timeout", f"Timeout: {message}",
                   _details(retryAfterSeconds=retry_after_seconds))
