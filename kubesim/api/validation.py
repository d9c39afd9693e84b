"""Create and update validation per kind, returning field errors with Kubernetes' paths and text.

:func:`validate` runs on a defaulted object (after :func:`kubesim.api.defaults.apply_defaults`)
and, for an update, the stored old object; :func:`check` raises the 422 ``Invalid`` status the
apiserver answers with. This covers what kubectl users commonly hit (names, labels,
annotations, pod containers / ports / resources, workload selectors and templates, service
ports, immutable fields), not every rule of ``pkg/apis/*/validation``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from kubesim.api import field, kinds, labels, meta, quantity, selectors, status
from kubesim.api.field import Path, new_path
from kubesim.api.scheduling_validation import (
    validate_affinity,
    validate_topology_spread_constraints,
)

Obj = dict[str, Any]
Errors = field.ErrorList

SUPPORTED_PROTOCOLS = ["SCTP", "TCP", "UDP"]
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
MAX_CONFIG_SIZE = 1024 * 1024
HIGHEST_USER_PRIORITY = 1_000_000_000
POD_UPDATABLE_FIELDS = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)
_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_PORT_RANGE = "must be between 1 and 65535, inclusive"
_VALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


# -- small helpers -------------------------------------------------------------------------


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _port_num(value: Any, path: Path) -> Errors:
    return [] if _is_port(value) else [field.invalid(path, value, _PORT_RANGE)]


def is_valid_port_name(name: str) -> list[str]:
    """``validation.IsValidPortName`` (IANA service name)."""
    errs = []
    if len(name) > 15:
        errs.append(labels.max_len_error(15))
    if not all(c.islower() or c.isdigit() or c == "-" for c in name) or not name.isascii():
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and not any(c.islower() for c in name):
        errs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _dns_label(value: str, path: Path) -> Errors:
    return [field.invalid(path, value, msg) for msg in labels.is_dns1123_label(value)]


def _quantity(value: Any) -> quantity.Quantity | None:
    try:
        return quantity.parse_json(value)
    except quantity.QuantityError:
        return None


def _nonnegative_quantity(value: Any, path: Path) -> Errors:
    q = _quantity(value)
    if q is None:
        return [field.invalid(path, value, "must be a valid resource quantity")]
    if q.sign() < 0:
        return [field.invalid(path, str(q), "must be greater than or equal to 0")]
    return []


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


# -- pod spec ------------------------------------------------------------------------------


def _resources(res: Obj, path: Path) -> Errors:
    errs: Errors = []
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    for key, rl in (("limits", limits), ("requests", requests)):
        for name in sorted(rl):
            p = path.child(key).key(name)
            if "/" not in name:
                if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
                    errs.append(field.invalid(p, name, "must be a standard resource for containers"))
            else:
                errs.extend(field.invalid(p, name, msg) for msg in labels.is_qualified_name(name))
            errs.extend(_nonnegative_quantity(rl[name], p))
    for name in sorted(requests):
        req, lim = _quantity(requests[name]), _quantity(limits.get(name))
        if req is None or lim is None:
            continue
        if req != lim and not _overcommit_allowed(name):
            errs.append(field.invalid(path.child("requests"), str(req),
                                      f"must be equal to {name} limit of {lim}"))
        elif req > lim:
            errs.append(field.invalid(path.child("requests"), str(req),
                                      f"must be less than or equal to {name} limit of {lim}"))
    return errs


def _container(ctr: Obj, path: Path, volumes: set[str]) -> Errors:
    errs: Errors = []
    name = ctr.get("name") or ""
    if not name:
        errs.append(field.required(path.child("name")))
    else:
        errs.extend(_dns_label(name, path.child("name")))
    image = ctr.get("image") or ""
    if not image:
        errs.append(field.required(path.child("image")))
    elif image != image.strip():
        errs.append(field.invalid(path.child("image"), image,
                                  "must not have leading or trailing whitespace"))
    policy = ctr.get("imagePullPolicy") or ""
    if not policy:
        errs.append(field.required(path.child("imagePullPolicy")))
    elif policy not in PULL_POLICIES:
        errs.append(field.not_supported(path.child("imagePullPolicy"), policy, PULL_POLICIES))
    port_names: set[str] = set()
    for i, port in enumerate(ctr.get("ports") or []):
        p = path.child("ports").index(i)
        port_name = port.get("name") or ""
        if port_name:
            errs.extend(field.invalid(p.child("name"), port_name, msg)
                        for msg in is_valid_port_name(port_name))
            if port_name in port_names:
                errs.append(field.duplicate(p.child("name"), port_name))
            port_names.add(port_name)
        if not port.get("containerPort"):
            errs.append(field.required(p.child("containerPort")))
        else:
            errs.extend(_port_num(port["containerPort"], p.child("containerPort")))
        if port.get("hostPort"):
            errs.extend(_port_num(port["hostPort"], p.child("hostPort")))
        protocol = port.get("protocol") or ""
        if not protocol:
            errs.append(field.required(p.child("protocol")))
        elif protocol not in SUPPORTED_PROTOCOLS:
            errs.append(field.not_supported(p.child("protocol"), protocol, SUPPORTED_PROTOCOLS))
    for i, mount in enumerate(ctr.get("volumeMounts") or []):
        p = path.child("volumeMounts").index(i)
        mount_name = mount.get("name") or ""
        if not mount_name:
            errs.append(field.required(p.child("name")))
        elif mount_name not in volumes:
            errs.append(field.not_found(p.child("name"), mount_name))
        if not mount.get("mountPath"):
            errs.append(field.required(p.child("mountPath")))
    errs.extend(_resources(ctr.get("resources") or {}, path.child("resources")))
    return errs


def validate_pod_spec(spec: Obj, path: Path) -> Errors:
    """``ValidatePodSpec``, the common part: volumes, containers, policies, node name."""
    errs: Errors = []
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        p = path.child("volumes").index(i)
        name = vol.get("name") or ""
        if not name:
            errs.append(field.required(p.child("name")))
        else:
            errs.extend(_dns_label(name, p.child("name")))
            if name in volumes:
                errs.append(field.duplicate(p.child("name"), name))
        volumes.add(name)
    containers = spec.get("containers") or []
    if not containers:
        errs.append(field.required(path.child("containers")))
    seen: set[str] = set()
    for key in ("containers", "initContainers"):
        for i, ctr in enumerate(spec.get(key) or []):
            p = path.child(key).index(i)
            errs.extend(_container(ctr, p, volumes))
            name = ctr.get("name") or ""
            if name and name in seen:
                errs.append(field.duplicate(p.child("name"), name))
            seen.add(name)
    restart = spec.get("restartPolicy") or ""
    if not restart:
        errs.append(field.required(path.child("restartPolicy")))
    elif restart not in RESTART_POLICIES:
        errs.append(field.not_supported(path.child("restartPolicy"), restart, RESTART_POLICIES))
    dns = spec.get("dnsPolicy") or ""
    if not dns:
        errs.append(field.required(path.child("dnsPolicy")))
    elif dns not in DNS_POLICIES:
        errs.append(field.not_supported(path.child("dnsPolicy"), dns, DNS_POLICIES))
    node_name = spec.get("nodeName") or ""
    if node_name:
        errs.extend(field.invalid(path.child("nodeName"), node_name, msg)
                    for msg in labels.is_dns1123_subdomain(node_name))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and deadline <= 0:
        errs.append(field.invalid(path.child("activeDeadlineSeconds"), deadline,
                                  "must be between 1 and 2147483647, inclusive"))
    errs.extend(labels.validate_labels(spec.get("nodeSelector"), path.child("nodeSelector")))
    errs.extend(validate_affinity(spec.get("affinity"), path.child("affinity")))
    errs.extend(validate_topology_spread_constraints(
        spec.get("topologySpreadConstraints") or [], path.child("topologySpreadConstraints")))
    for i, tol in enumerate(spec.get("tolerations") or []):
        p = path.child("tolerations").index(i)
        effect = tol.get("effect") or ""
        if effect and effect not in TAINT_EFFECTS:
            errs.append(field.not_supported(p.child("effect"), effect, TAINT_EFFECTS))
        if tol.get("key"):
            errs.extend(labels.validate_label_name(tol["key"], p.child("key")))
    return errs


def _pod(pod: Obj, old: Obj | None) -> Errors:
    spec = pod.get("spec") or {}
    errs = validate_pod_spec(spec, new_path("spec"))
    if old is None:
        return errs
    old_spec = old.get("spec") or {}
    mutable = dict(old_spec)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        if key in spec:
            mutable[key] = spec[key]
        else:
            mutable.pop(key, None)
    for key in ("containers", "initContainers"):
        new_ctrs, old_ctrs = spec.get(key) or [], old_spec.get(key) or []
        if key in old_spec and len(new_ctrs) == len(old_ctrs):
            mutable[key] = [{**o, "image": n.get("image")} for o, n in zip(old_ctrs, new_ctrs, strict=True)]
    if mutable != spec:
        changed = sorted(k for k in set(spec) | set(old_spec) if spec.get(k) != mutable.get(k))
        diff = "\n".join(f"  {k}: {field.go_value(old_spec.get(k))} -> {field.go_value(spec.get(k))}"
                         for k in changed)
        errs.append(field.forbidden(new_path("spec"),
                                    f"pod updates may not change fields other than "
                                    f"{POD_UPDATABLE_FIELDS}\n{diff}"))
    return errs


# -- workloads -----------------------------------------------------------------------------


def _selector_and_template(spec: Obj, path: Path, restart_policies: list[str],
                           empty_selector_msg: str | None, owner: str | None) -> Errors:
    """Selector valid and matching the template labels; template a valid pod template.

    ``owner`` names the kind in the activeDeadlineSeconds error (None: allowed, as for Jobs).
    """
    errs: Errors = []
    selector = spec.get("selector")
    parsed = selectors.EVERYTHING
    if selector is None:
        errs.append(field.required(path.child("selector")))
    else:
        sel_errs = selectors.validate_label_selector(selector, path.child("selector"))
        errs.extend(sel_errs)
        empty = not (selector.get("matchLabels") or selector.get("matchExpressions"))
        if empty and empty_selector_msg:
            errs.append(field.invalid(path.child("selector"), selectors.go_label_selector(selector),
                                      empty_selector_msg))
        if not sel_errs:
            parsed = selectors.from_label_selector(selector)
    template = spec.get("template")
    t_path = path.child("template")
    if template is None:
        errs.append(field.required(t_path))
        return errs
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    if not parsed.empty() and not parsed.matches(template_labels):
        errs.append(field.invalid(t_path.child("metadata", "labels"), template_labels,
                                  "`selector` does not match template `labels`"))
    errs.extend(labels.validate_labels(template_labels, t_path.child("metadata", "labels")))
    errs.extend(labels.validate_annotations((template.get("metadata") or {}).get("annotations"),
                                            t_path.child("metadata", "annotations")))
    t_spec = template.get("spec") or {}
    errs.extend(validate_pod_spec(t_spec, t_path.child("spec")))
    restart = t_spec.get("restartPolicy") or ""
    if restart in RESTART_POLICIES and restart not in restart_policies:
        errs.append(field.not_supported(t_path.child("spec", "restartPolicy"), restart,
                                        restart_policies))
    if owner and t_spec.get("activeDeadlineSeconds") is not None:
        errs.append(field.forbidden(t_path.child("spec", "activeDeadlineSeconds"),
                                    f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


_EMPTY_FOR_DEPLOYMENT = "empty selector is invalid for deployment"


def _immutable_selector(new: Obj, old: Obj | None) -> Errors:
    if old is None:
        return []
    new_sel, old_sel = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if new_sel == old_sel:
        return []
    return [field.invalid(new_path("spec", "selector"), selectors.go_label_selector(new_sel),
                          meta.FIELD_IMMUTABLE)]


def _nonnegative_fields(spec: Obj, path: Path, *keys: str) -> Errors:
    errs: Errors = []
    for key in keys:
        if isinstance(spec.get(key), int):
            errs.extend(meta.validate_nonnegative(spec[key], path.child(key)))
    return errs


def _deployment(obj: Obj, old: Obj | None) -> Errors:
    spec, path = obj.get("spec") or {}, new_path("spec")
    errs = _nonnegative_fields(spec, path, "replicas")
    errs += _selector_and_template(spec, path, ["Always"], _EMPTY_FOR_DEPLOYMENT, "ReplicaSet")
    strategy = spec.get("strategy") or {}
    s_type = strategy.get("type") or ""
    if s_type == "Recreate" and strategy.get("rollingUpdate") is not None:
        errs.append(field.forbidden(path.child("strategy", "rollingUpdate"),
                                    "may not be specified when strategy `type` is 'Recreate'"))
    elif s_type not in ("Recreate", "RollingUpdate"):
        errs.append(field.not_supported(path.child("strategy", "type"), s_type,
                                        ["Recreate", "RollingUpdate"]))
    rolling = strategy.get("rollingUpdate") or {}
    if s_type == "RollingUpdate" and rolling.get("maxUnavailable") in (0, "0%") \
            and rolling.get("maxSurge") in (0, "0%"):
        errs.append(field.invalid(path.child("strategy", "rollingUpdate", "maxUnavailable"),
                                  rolling["maxUnavailable"], "may not be 0 when `maxSurge` is 0"))
    errs += _nonnegative_fields(spec, path, "revisionHistoryLimit", "progressDeadlineSeconds",
                                "minReadySeconds")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        errs.append(field.invalid(path.child("progressDeadlineSeconds"), deadline,
                                  "must be greater than minReadySeconds"))
    return errs + _immutable_selector(obj, old)


def _replicaset(obj: Obj, old: Obj | None) -> Errors:
    spec, path = obj.get("spec") or {}, new_path("spec")
    errs = _nonnegative_fields(spec, path, "replicas", "minReadySeconds")
    errs += _selector_and_template(spec, path, ["Always"], _EMPTY_FOR_DEPLOYMENT, "ReplicaSet")
    return errs + _immutable_selector(obj, old)


def _daemonset(obj: Obj, old: Obj | None) -> Errors:
    spec, path = obj.get("spec") or {}, new_path("spec")
    errs = _selector_and_template(spec, path, ["Always"], "empty selector is not valid for daemonset.",
                                  "DaemonSet")
    errs += _nonnegative_fields(spec, path, "minReadySeconds", "revisionHistoryLimit")
    s_type = (spec.get("updateStrategy") or {}).get("type") or ""
    if s_type not in ("OnDelete", "RollingUpdate"):
        errs.append(field.not_supported(path.child("updateStrategy", "type"), s_type,
                                        ["OnDelete", "RollingUpdate"]))
    return errs + _immutable_selector(obj, old)


def _job(obj: Obj, old: Obj | None) -> Errors:
    spec, path = obj.get("spec") or {}, new_path("spec")
    errs = _nonnegative_fields(spec, path, "parallelism", "completions", "backoffLimit",
                               "activeDeadlineSeconds", "ttlSecondsAfterFinished")
    errs += _selector_and_template(spec, path, ["OnFailure", "Never"], None, None)
    mode = spec.get("completionMode") or ""
    if mode not in ("NonIndexed", "Indexed"):
        errs.append(field.not_supported(path.child("completionMode"), mode, ["NonIndexed", "Indexed"]))
    elif mode == "Indexed" and spec.get("completions") is None:
        errs.append(field.required(path.child("completions"),
                                   "when completion mode is Indexed"))
    if old is None:
        return errs
    old_spec = old.get("spec") or {}
    errs += _immutable_selector(obj, old)
    for key in ("completionMode", "completions"):
        if key == "completions" and mode == "Indexed":
            continue
        errs.extend(meta.validate_immutable(spec.get(key), old_spec.get(key), path.child(key)))
    if spec.get("template") != old_spec.get("template"):
        errs.append(field.invalid(path.child("template"), field.GoLiteral("core.PodTemplateSpec{...}"),
                                  meta.FIELD_IMMUTABLE))
    return errs


# -- services and networking ---------------------------------------------------------------


def _go_service_port(port: Obj) -> field.GoLiteral:
    return field.GoLiteral(
        f'core.ServicePort{{Name:"", Protocol:{field.go_quote(port.get("protocol") or "")}, '
        f'AppProtocol:(*string)(nil), Port:{port.get("port", 0)}, '
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}')


def _service(svc: Obj, old: Obj | None) -> Errors:
    spec, path = svc.get("spec") or {}, new_path("spec")
    errs: Errors = []
    svc_type = spec.get("type") or ""
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if svc_type not in SERVICE_TYPES:
        errs.append(field.not_supported(path.child("type"), svc_type, SERVICE_TYPES))
    if svc_type == "ExternalName":
        external = spec.get("externalName") or ""
        if not external:
            errs.append(field.required(path.child("externalName")))
        else:
            errs.extend(field.invalid(path.child("externalName"), external, msg)
                        for msg in labels.is_dns1123_subdomain(external.rstrip(".")))
    elif not ports and not headless:
        errs.append(field.required(path.child("ports")))
    names: set[str] = set()
    seen: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        p = path.child("ports").index(i)
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(field.required(p.child("name")))
        elif name:
            errs.extend(_dns_label(name, p.child("name")))
            if name in names:
                errs.append(field.duplicate(p.child("name"), name))
            names.add(name)
        errs.extend(_port_num(port.get("port", 0), p.child("port")))
        protocol = port.get("protocol") or ""
        if not protocol:
            errs.append(field.required(p.child("protocol")))
        elif protocol not in SUPPORTED_PROTOCOLS:
            errs.append(field.not_supported(p.child("protocol"), protocol, SUPPORTED_PROTOCOLS))
        target = port.get("targetPort")
        if isinstance(target, str):
            errs.extend(field.invalid(p.child("targetPort"), target, msg)
                        for msg in is_valid_port_name(target))
        elif target is not None:
            errs.extend(_port_num(target, p.child("targetPort")))
        if port.get("nodePort") and svc_type not in ("NodePort", "LoadBalancer"):
            errs.append(field.forbidden(p.child("nodePort"),
                                        f"may not be used when `type` is '{svc_type}'"))
        key = (port.get("port", 0), protocol)
        if key in seen:
            errs.append(field.duplicate(p, _go_service_port(port)))
        seen.add(key)
    affinity = spec.get("sessionAffinity") or ""
    if affinity not in ("ClientIP", "None"):
        errs.append(field.not_supported(path.child("sessionAffinity"), affinity, ["ClientIP", "None"]))
    errs.extend(labels.validate_labels(spec.get("selector"), path.child("selector")))
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != "None" and not _is_ip(cluster_ip):
        errs.append(field.invalid(path.child("clusterIPs").index(0), cluster_ip, _VALID_IP))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP") or ""
        if old_ip and cluster_ip and old_ip != cluster_ip and svc_type != "ExternalName":
            errs.append(field.invalid(path.child("clusterIPs").index(0), [cluster_ip],
                                      "may not change once set"))
    return errs


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _endpoints(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    for i, subset in enumerate(obj.get("subsets") or []):
        p = new_path("subsets").index(i)
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(subset.get(key) or []):
                ip = addr.get("ip") or ""
                if not _is_ip(ip):
                    errs.append(field.invalid(p.child(key).index(j).child("ip"), ip, _VALID_IP))
        for j, port in enumerate(subset.get("ports") or []):
            errs.extend(_port_num(port.get("port", 0), p.child("ports").index(j).child("port")))
    return errs


def _endpointslice(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    address_type = obj.get("addressType") or ""
    if not address_type:
        errs.append(field.required(new_path("addressType")))
    elif address_type not in ("IPv4", "IPv6", "FQDN"):
        errs.append(field.not_supported(new_path("addressType"), address_type, ["IPv4", "IPv6", "FQDN"]))
    endpoints = obj.get("endpoints") or []
    if len(endpoints) > 1000:
        errs.append(field.too_many(new_path("endpoints"), len(endpoints), 1000))
    for i, ep in enumerate(endpoints):
        p = new_path("endpoints").index(i).child("addresses")
        addresses = ep.get("addresses") or []
        if not addresses:
            errs.append(field.required(p, "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(field.too_many(p, len(addresses), 100))
        for j, address in enumerate(addresses):
            if address_type in ("IPv4", "IPv6"):
                version = 4 if address_type == "IPv4" else 6
                if not _is_ip(address) or ipaddress.ip_address(address).version != version:
                    errs.append(field.invalid(p.index(j), address,
                                              f"must be a valid {address_type} address"))
    for i, port in enumerate(obj.get("ports") or []):
        if port.get("port") is not None:
            errs.extend(_port_num(port["port"], new_path("ports").index(i).child("port")))
    if old is not None:
        errs.extend(meta.validate_immutable(address_type, old.get("addressType") or "",
                                            new_path("addressType")))
    return errs


# -- configuration kinds ---------------------------------------------------------------------


def is_config_map_key(key: str) -> list[str]:
    errs = []
    if len(key) > labels.DNS1123_SUBDOMAIN_MAX:
        errs.append(labels.max_len_error(labels.DNS1123_SUBDOMAIN_MAX))
    if not key or any(not (c.isascii() and (c.isalnum() or c in "-._")) for c in key):
        errs.append(labels.regex_error("a valid config key must consist of alphanumeric "
                                       "characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+",
                                       "key.name", "KEY_NAME", "key-name"))
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _data_keys(obj: Obj, keys: tuple[str, ...]) -> Errors:
    errs: Errors = []
    size = 0
    for data_key in keys:
        for key in sorted(obj.get(data_key) or {}):
            value = obj[data_key][key]
            size += len(str(value))
            errs.extend(field.invalid(new_path(data_key).key(key), key, msg)
                        for msg in is_config_map_key(key))
    if size > MAX_CONFIG_SIZE:
        errs.append(field.too_long(new_path(""), MAX_CONFIG_SIZE))
    return errs


def _immutable_data(obj: Obj, old: Obj | None, keys: tuple[str, ...]) -> Errors:
    if old is None or not old.get("immutable"):
        return []
    errs: Errors = []
    for key in keys:
        if obj.get(key) != old.get(key):
            errs.append(field.forbidden(new_path(key), "field is immutable when `immutable` is set"))
    if not obj.get("immutable"):
        errs.append(field.forbidden(new_path("immutable"), "field is immutable when `immutable` is set"))
    return errs


def _configmap(obj: Obj, old: Obj | None) -> Errors:
    keys = ("data", "binaryData")
    errs = _data_keys(obj, keys)
    for key in sorted(set(obj.get("data") or {}) & set(obj.get("binaryData") or {})):
        errs.append(field.invalid(new_path("data").key(key), key, "duplicate of key present in binaryData"))
    return errs + _immutable_data(obj, old, keys)


def _secret(obj: Obj, old: Obj | None) -> Errors:
    errs = _data_keys(obj, ("data",))
    if old is not None:
        errs.extend(meta.validate_immutable(obj.get("type", ""), old.get("type", ""), new_path("type")))
    return errs + _immutable_data(obj, old, ("data",))


def _resource_list_values(rl: Obj | None, path: Path) -> Errors:
    errs: Errors = []
    for name in sorted(rl or {}):
        p = path.key(name)
        errs.extend(field.invalid(p, name, msg) for msg in labels.is_qualified_name(name))
        errs.extend(_nonnegative_quantity(rl[name], p))
    return errs


def _resourcequota(obj: Obj, old: Obj | None) -> Errors:
    return _resource_list_values((obj.get("spec") or {}).get("hard"), new_path("spec", "hard"))


def _limitrange(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    for i, item in enumerate((obj.get("spec") or {}).get("limits") or []):
        p = new_path("spec", "limits").index(i)
        item_type = item.get("type") or ""
        if item_type not in ("Container", "Pod", "PersistentVolumeClaim"):
            errs.append(field.not_supported(p.child("type"), item_type,
                                            ["Container", "Pod", "PersistentVolumeClaim"]))
        for key in ("max", "min", "default", "defaultRequest"):
            errs.extend(_resource_list_values(item.get(key), p.child(key)))
        maxes, mins = item.get("max") or {}, item.get("min") or {}
        for name in sorted(set(maxes) & set(mins)):
            lo, hi = _quantity(mins[name]), _quantity(maxes[name])
            if lo is not None and hi is not None and lo > hi:
                errs.append(field.invalid(p.child("min").key(name), str(lo),
                                          f"min value {lo} is greater than max value {hi}"))
    return errs


# -- cluster kinds ---------------------------------------------------------------------------


def _namespace(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    for i, name in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        if "/" not in name and name != "kubernetes":
            errs.append(field.invalid(new_path("spec", "finalizers").index(i), name,
                                      "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def _node(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
        p = new_path("spec", "taints").index(i)
        errs.extend(labels.validate_label_name(taint.get("key") or "", p.child("key")))
        effect = taint.get("effect") or ""
        if not effect:
            errs.append(field.required(p.child("effect")))
        elif effect not in TAINT_EFFECTS:
            errs.append(field.not_supported(p.child("effect"), effect, TAINT_EFFECTS))
    st = obj.get("status") or {}
    for key in ("capacity", "allocatable"):
        errs.extend(_resource_list_values(st.get(key), new_path("status", key)))
    return errs


def _lease(obj: Obj, old: Obj | None) -> Errors:
    spec, path = obj.get("spec") or {}, new_path("spec")
    errs: Errors = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.append(field.invalid(path.child("leaseDurationSeconds"), duration, "must be greater than 0"))
    return errs + _nonnegative_fields(spec, path, "leaseTransitions")


# scheduling.SystemPriorityClasses: (value, globalDefault) of the classes the apiserver
# creates itself (IsKnownSystemPriorityClass lets exactly these through)
_SYSTEM_PRIORITY_CLASSES = {"system-node-critical": (2000001000, False),
                            "system-cluster-critical": (2000000000, False)}


def _priorityclass(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    name = obj.get("metadata", {}).get("name", "")
    value = obj.get("value", 0)
    if name.startswith("system-") and old is None and \
            _SYSTEM_PRIORITY_CLASSES.get(name) != (value, bool(obj.get("globalDefault"))):
        errs.append(field.invalid(new_path("metadata", "name"), name,
                                  "priority class names with 'system-' prefix are reserved"))
    if value > HIGHEST_USER_PRIORITY and not name.startswith("system-"):
        errs.append(field.forbidden(new_path("value"), "maximum allowed value of a user defined "
                                    f"priority is {HIGHEST_USER_PRIORITY}"))
    policy = obj.get("preemptionPolicy") or ""
    if policy not in ("Never", "PreemptLowerPriority"):
        errs.append(field.not_supported(new_path("preemptionPolicy"), policy,
                                        ["Never", "PreemptLowerPriority"]))
    if old is not None:
        if value != old.get("value", 0):
            errs.append(field.forbidden(new_path("value"), "may not be changed in an update."))
        errs.extend(meta.validate_immutable(policy, old.get("preemptionPolicy") or "",
                                            new_path("preemptionPolicy")))
    return errs


def _event(obj: Obj, old: Obj | None) -> Errors:
    namespace = obj.get("metadata", {}).get("namespace", "")
    involved = obj.get("involvedObject") or {}
    involved_ns = involved.get("namespace") or ""
    path = new_path("involvedObject", "namespace")
    if (not involved_ns and namespace not in ("", "default")) or (involved_ns and involved_ns != namespace):
        return [field.invalid(path, involved_ns, "does not match event.namespace")]
    return []


def _events_v1_event(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    if not obj.get("eventTime"):
        errs.append(field.required(new_path("eventTime")))
    for key in ("reportingController", "reportingInstance", "action", "reason"):
        if not obj.get(key):
            errs.append(field.required(new_path(key)))
    if obj.get("type") not in ("Normal", "Warning"):
        errs.append(field.invalid(new_path("type"), "", f"has invalid value: {obj.get('type', '')}"))
    return errs


Validator = Callable[[Obj, Obj | None], Errors]
_VALIDATORS: dict[tuple[str, str], tuple[meta.NameValidator, Validator | None]] = {
    ("", "Pod"): (meta.name_is_dns_subdomain, _pod),
    ("", "Service"): (meta.name_is_dns1035_label, _service),
    ("", "Namespace"): (meta.name_is_dns_label, _namespace),
    ("", "Node"): (meta.name_is_dns_subdomain, _node),
    ("", "ConfigMap"): (meta.name_is_dns_subdomain, _configmap),
    ("", "Secret"): (meta.name_is_dns_subdomain, _secret),
    ("", "Endpoints"): (meta.name_is_dns_subdomain, _endpoints),
    ("", "Event"): (meta.name_is_dns_subdomain, _event),
    ("", "ResourceQuota"): (meta.name_is_dns_subdomain, _resourcequota),
    ("", "LimitRange"): (meta.name_is_dns_subdomain, _limitrange),
    ("apps", "Deployment"): (meta.name_is_dns_subdomain, _deployment),
    ("apps", "ReplicaSet"): (meta.name_is_dns_subdomain, _replicaset),
    ("apps", "DaemonSet"): (meta.name_is_dns_subdomain, _daemonset),
    ("batch", "Job"): (meta.name_is_dns_subdomain, _job),
    ("coordination.k8s.io", "Lease"): (meta.name_is_dns_subdomain, _lease),
    ("scheduling.k8s.io", "PriorityClass"): (meta.name_is_dns_subdomain, _priorityclass),
    ("discovery.k8s.io", "EndpointSlice"): (meta.name_is_dns_subdomain, _endpointslice),
    ("events.k8s.io", "Event"): (meta.name_is_dns_subdomain, _events_v1_event),
}


def validate(obj: Obj, old: Obj | None = None) -> Errors:
    """Field errors for creating ``obj`` (``old`` None) or updating ``old`` to ``obj``."""
    kind = kinds.of(obj)
    if kind is None:
        return []
    name_fn, spec_fn = _VALIDATORS.get((kind.group, kind.kind), (meta.name_is_dns_subdomain, None))
    metadata = obj.get("metadata") or {}
    if old is None:
        errs = meta.validate_object_meta(metadata, kind.namespaced, name_fn)
    else:
        errs = meta.validate_object_meta_update(metadata, old.get("metadata") or {})
    if spec_fn is not None:
        errs.extend(spec_fn(obj, old))
    return errs


def check(obj: Obj, old: Obj | None = None) -> None:
    """Raise the apiserver's 422 (``Deployment.apps "x" is invalid: ...``) if invalid."""
    errs = validate(obj, old)
    if errs:
        kind = kinds.of(obj)
        assert kind is not None
        name = (obj.get("metadata") or {}).get("name", "")
        raise status.invalid(kind.kind, name, errs, kind.group)
