"""List/watch and delete options: metav1.ListOptions and metav1.DeleteOptions, parsed and
validated as kube-apiserver does.

:meth:`ListOptions.from_query` reads URL query parameters and applies
``ValidateListOptions`` (k8s.io/apimachinery pkg/apis/meta/internalversion/validation);
:meth:`DeleteOptions.from_dict` reads a DeleteOptions body and applies
``ValidateDeleteOptions`` (pkg/apis/meta/v1/validation). The WatchList defaulting of a
legacy watch to ``sendInitialEvents=true`` (feature gate WatchList) is not applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.api import field as fld
from kubesim.api import selectors, status
from kubesim.api.kinds import Kind
from kubesim.api.selectors import FieldSelector, LabelSelector

NOT_OLDER_THAN = "NotOlderThan"
EXACT = "Exact"
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _bool(text: str) -> bool:
    """Go's strconv.ParseBool, as the query parameter codec uses it."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise status.bad_request(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise status.bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def parse_resource_version(text: str) -> int:
    """``APIObjectVersioner.ParseResourceVersion``: "" is 0; 400 for anything not a uint64."""
    if not text:
        return 0
    if text.isascii() and text.isdigit() and int(text) < 2**64:
        return int(text)
    detail = f'strconv.ParseUint: parsing {fld.go_quote(text)}: invalid syntax'
    raise status.bad_request(
        f"invalid resource version: resourceVersion: Invalid value: {fld.go_quote(text)}: {detail}")


@dataclass(frozen=True)
class ListOptions:
    """What a list or watch asks for (metav1.ListOptions)."""

    label_selector: LabelSelector = selectors.EVERYTHING
    field_selector: FieldSelector = field(default_factory=FieldSelector)
    resource_version: str = ""
    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""
    watch: bool = False
    allow_watch_bookmarks: bool = False
    send_initial_events: bool | None = None
    timeout_seconds: int | None = None

    @property
    def min_resource_version(self) -> int:
        return parse_resource_version(self.resource_version)

    @classmethod
    def from_query(cls, kind: Kind, query: Mapping[str, str]) -> ListOptions:
        """Parse query parameters; 400 for what does not parse, 422 for invalid combinations."""
        try:
            label = selectors.parse(query.get("labelSelector", ""))
            fields = selectors.parse_field_selector(query.get("fieldSelector", ""), kind.group,
                                                    kind.kind)
        except selectors.SelectorError as e:
            raise status.bad_request(str(e)) from None
        send = query.get("sendInitialEvents")
        timeout = query.get("timeoutSeconds")
        opts = cls(
            label_selector=label,
            field_selector=fields,
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
            limit=_int(query["limit"]) if query.get("limit") else 0,
            continue_token=query.get("continue", ""),
            watch=_bool(query["watch"]) if query.get("watch") else False,
            allow_watch_bookmarks=(_bool(query["allowWatchBookmarks"])
                                   if query.get("allowWatchBookmarks") else False),
            send_initial_events=None if send is None else _bool(send),
            timeout_seconds=None if timeout is None else _int(timeout),
        )
        opts.validate()
        parse_resource_version(opts.resource_version)
        return opts

    def validate(self) -> None:
        """``ValidateListOptions`` (WatchList enabled): 422 ``ListOptions.meta.k8s.io``."""
        errs = self._watch_errors() if self.watch else self._list_errors()
        if errs:
            raise status.invalid("ListOptions", "", errs, "meta.k8s.io")

    def _list_errors(self) -> fld.ErrorList:
        errs: fld.ErrorList = []
        path = fld.new_path("resourceVersionMatch")
        match = self.resource_version_match
        if match:
            if not self.resource_version:
                errs.append(fld.forbidden(
                    path, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if self.continue_token:
                errs.append(fld.forbidden(
                    path, "resourceVersionMatch is forbidden when continue is provided"))
            if match not in (EXACT, NOT_OLDER_THAN):
                errs.append(fld.not_supported(path, match, [EXACT, NOT_OLDER_THAN, ""]))
            if match == EXACT and self.resource_version == "0":
                errs.append(fld.forbidden(
                    path, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if self.send_initial_events is not None:
            errs.append(fld.forbidden(fld.new_path("sendInitialEvents"),
                                      "sendInitialEvents is forbidden for list"))
        return errs

    def _watch_errors(self) -> fld.ErrorList:
        errs: fld.ErrorList = []
        path = fld.new_path("resourceVersionMatch")
        match = self.resource_version_match
        if self.send_initial_events is not None and match != NOT_OLDER_THAN:
            errs.append(fld.forbidden(
                path, f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"))
        if match:
            if self.send_initial_events is None:
                errs.append(fld.forbidden(
                    path, "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
            if match != NOT_OLDER_THAN:
                errs.append(fld.not_supported(path, match, [NOT_OLDER_THAN]))
            if self.continue_token:
                errs.append(fld.forbidden(
                    path, "resourceVersionMatch is forbidden when continue is provided"))
        return errs


@dataclass(frozen=True)
class DeleteOptions:
    """What a delete asks for (metav1.DeleteOptions)."""

    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None
    dry_run: bool = False

    @classmethod
    def from_dict(cls, body: Mapping[str, Any] | None) -> DeleteOptions:
        """From a DeleteOptions body (None: the defaults); 422 ``DeleteOptions.meta.k8s.io``."""
        body = body or {}
        pre = body.get("preconditions") or {}
        opts = cls(
            grace_period_seconds=body.get("gracePeriodSeconds"),
            precondition_uid=pre.get("uid"),
            precondition_resource_version=pre.get("resourceVersion"),
            propagation_policy=body.get("propagationPolicy"),
            orphan_dependents=body.get("orphanDependents"),
            dry_run=_dry_run(body.get("dryRun")),
        )
        return opts

    def with_grace(self, seconds: int | None) -> DeleteOptions:
        return DeleteOptions(seconds, self.precondition_uid, self.precondition_resource_version,
                             self.propagation_policy, self.orphan_dependents, self.dry_run)


def _dry_run(values: Any) -> bool:
    values = list(values or [])
    if any(v != "All" for v in values):
        err = fld.not_supported(fld.new_path("dryRun"), values, ["All"])
        raise status.invalid("DeleteOptions", "", [err], "meta.k8s.io")
    return bool(values)


def validate_delete_options(opts: DeleteOptions) -> None:
    """``ValidateDeleteOptions``; 422 ``DeleteOptions.meta.k8s.io "" is invalid: ...``."""
    errs: fld.ErrorList = []
    path = fld.new_path("propagationPolicy")
    if opts.orphan_dependents is not None and opts.propagation_policy is not None:
        errs.append(fld.invalid(path, opts.propagation_policy,
                                "orphanDependents and deletionPropagation cannot be both set"))
    if opts.propagation_policy is not None and opts.propagation_policy not in PROPAGATION_POLICIES:
        errs.append(fld.not_supported(path, opts.propagation_policy, [*PROPAGATION_POLICIES, "nil"]))
    if errs:
        raise status.invalid("DeleteOptions", "", errs, "meta.k8s.io")
