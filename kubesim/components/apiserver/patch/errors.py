"""Patch failures, each carrying the HTTP status and Status reason the apiserver answers with."""

from __future__ import annotations


class PatchError(Exception):
    """A patch that cannot be applied; `status`/`reason` go into the Status object."""

    status = 422
    reason = "Invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadPatchError(PatchError):
    """Malformed patch document (400 BadRequest)."""

    status = 400
    reason = "BadRequest"


class UnprocessablePatchError(PatchError):
    """Well-formed patch that does not apply to this object (422)."""


class PatchTooLargeError(PatchError):
    """More JSON-patch operations than the apiserver accepts (413)."""

    status = 413
    reason = "RequestEntityTooLarge"


class UnsupportedPatchTypeError(PatchError):
    """Patch type not available for this resource (415 UnsupportedMediaType)."""

    status = 415
    reason = "UnsupportedMediaType"
