"""kube-proxy's IPVS mode: the desired virtual/real servers and ipsets of one node, the
diff between two syncs (the netlink operations the cost model charges), and a model of
the kernel's IPVS tables with its schedulers.

Desired state (pkg/proxy/ipvs/proxier.go, IPv4): one virtual server per clusterIP:port,
external IP, load-balancer IP and (per node IP) NodePort, all with the configured
scheduler, ClientIP affinity as persistence with the affinity timeout; real servers are
the node's usable endpoints (`model.categorize`; Local policies use the node's own),
weight 1. ipsets hold what the few iptables rules match on.

The kernel model (`IpvsKernel`) follows net/netfilter/ipvs: destinations are a list to
which new real servers are added at the head; rr resumes after the last pick; wrr is
the interleaved weighted round robin; lc/wlc use the overhead activeconns*256 +
inactconns; sed and nq use activeconns + 1 (nq takes an idle server at once); sh and dh
fill a 256-bucket table round robin over the destinations (sh: `weight` buckets each)
and index it by hash_32(source address) (sh) or (destination address * 2654435761)
& 255 (dh). Connections are counted through `schedule` / `close`: inactive connections
are not modelled (closing forgets the connection). A removed real server that still has
connections keeps weight 0 until they close (kube-proxy's graceful termination).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from math import gcd

from kubesim.components.kube_proxy.iptables import in_cidr, ip_to_int
from kubesim.components.kube_proxy.model import Endpoint, ProxyView, ServicePort, categorize

__all__ = [
    "SCHEDULERS",
    "IpvsConfig",
    "VirtualServer",
    "IpvsTable",
    "IpvsDiff",
    "service_entries",
    "build_table",
    "diff",
    "iptables_rules",
    "IpvsKernel",
]

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq")
TABLE_SIZE = 256  # IP_VS_SH_TAB_SIZE / IP_VS_DH_TAB_SIZE (8 bits)
GOLDEN_RATIO_32 = 0x61C88647  # include/linux/hash.h

VsKey = tuple[str, int, str]  # (address, port, protocol)
RsKey = tuple[str, int]  # (address, port)


@dataclass(frozen=True)
class IpvsConfig:
    """The node and kube-proxy settings IPVS mode depends on."""

    node_name: str = ""
    node_ips: tuple[str, ...] = ()  # addresses NodePort virtual servers are created on
    zone: str = ""
    scheduler: str = "rr"
    cluster_cidr: str | None = "10.244.0.0/16"
    masquerade_all: bool = False

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown IPVS scheduler {self.scheduler!r}")


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """One IPVS service; ``timeout`` > 0 is persistence (ClientIP affinity)."""

    address: str
    port: int
    protocol: str
    scheduler: str
    timeout: int = 0


@dataclass(frozen=True)
class IpvsTable:
    """Desired IPVS state of a node: virtual servers with their real servers, ipsets."""

    servers: Mapping[VsKey, tuple[VirtualServer, frozenset[RsKey]]]
    ipsets: Mapping[str, frozenset[str]]

    @property
    def real_server_count(self) -> int:
        return sum(len(rs) for _, rs in self.servers.values())


def service_entries(
    sp: ServicePort, eps: tuple[Endpoint, ...], cfg: IpvsConfig
) -> Iterator[tuple[VirtualServer, frozenset[RsKey]]]:
    """The virtual servers of one service port on this node, each with its real servers."""
    cat = categorize(eps, sp, cfg.node_name, cfg.zone)
    cluster = frozenset((e.ip, e.port) for e in cat.cluster)
    local = frozenset((e.ip, e.port) for e in cat.local)
    internal = local if sp.internal_policy_local else cluster
    external = local if sp.external_policy_local else cluster

    def vs(addr: str, port: int) -> VirtualServer:
        return VirtualServer(addr, port, sp.protocol, cfg.scheduler, sp.affinity_seconds)

    yield vs(sp.cluster_ip, sp.port), internal
    for ip in sp.external_ips + sp.load_balancer_ips:
        yield vs(ip, sp.port), external
    if sp.node_port:
        for ip in cfg.node_ips:
            yield vs(ip, sp.node_port), external


def _service_ipsets(
    sp: ServicePort, eps: tuple[Endpoint, ...], cfg: IpvsConfig
) -> Iterator[tuple[str, str]]:
    proto = sp.protocol.lower()
    yield "KUBE-CLUSTER-IP", f"{sp.cluster_ip},{proto}:{sp.port}"
    yield "KUBE-IPVS-IPS", sp.cluster_ip
    for e in eps:
        if e.is_local(cfg.node_name):
            yield "KUBE-LOOP-BACK", f"{e.ip},{proto}:{e.port},{e.ip}"
    for ip in sp.external_ips:
        yield (
            ("KUBE-EXTERNAL-IP-LOCAL" if sp.external_policy_local else "KUBE-EXTERNAL-IP"),
            (f"{ip},{proto}:{sp.port}"),
        )
        yield "KUBE-IPVS-IPS", ip
    for ip in sp.load_balancer_ips:
        entry = f"{ip},{proto}:{sp.port}"
        yield "KUBE-LOAD-BALANCER", entry
        yield "KUBE-IPVS-IPS", ip
        if sp.external_policy_local:
            yield "KUBE-LOAD-BALANCER-LOCAL", entry
        if sp.load_balancer_source_ranges:
            yield "KUBE-LOAD-BALANCER-FW", entry
            for cidr in sp.load_balancer_source_ranges:
                yield "KUBE-LOAD-BALANCER-SOURCE-CIDR", f"{entry},{cidr}"
            if any(in_cidr(n, c) for n in cfg.node_ips for c in sp.load_balancer_source_ranges):
                yield "KUBE-LOAD-BALANCER-SOURCE-IP", f"{entry},{ip}"
    if sp.node_port:
        suffix = sp.protocol.upper()
        if suffix == "SCTP":
            entries = [f"{ip},sctp:{sp.node_port}" for ip in cfg.node_ips]
        else:
            entries = [str(sp.node_port)]
        for entry in entries:
            yield f"KUBE-NODE-PORT-{suffix}", entry
            if sp.external_policy_local:
                yield f"KUBE-NODE-PORT-LOCAL-{suffix}", entry
    if sp.health_check_node_port:
        yield "KUBE-HEALTH-CHECK-NODE-PORT", str(sp.health_check_node_port)


def build_table(view: ProxyView, cfg: IpvsConfig) -> IpvsTable:
    """The IPVS state kube-proxy wants on the node ``cfg`` describes."""
    servers: dict[VsKey, tuple[VirtualServer, frozenset[RsKey]]] = {}
    sets: dict[str, set[str]] = {}
    for sp in view.service_ports():
        eps = view.endpoints_of(sp.name)
        for vs, rs in service_entries(sp, eps, cfg):
            servers[(vs.address, vs.port, vs.protocol)] = (vs, rs)
        for name, entry in _service_ipsets(sp, eps, cfg):
            sets.setdefault(name, set()).add(entry)
    return IpvsTable(servers, {k: frozenset(v) for k, v in sets.items()})


@dataclass(frozen=True)
class IpvsDiff:
    """The netlink/ipset operations that take a node from one table to the next."""

    vs_added: int = 0
    vs_updated: int = 0  # scheduler or persistence changed
    vs_deleted: int = 0
    rs_added: int = 0
    rs_deleted: int = 0
    ipset_added: int = 0
    ipset_deleted: int = 0

    @property
    def virtual_server_ops(self) -> int:
        return self.vs_added + self.vs_updated + self.vs_deleted

    @property
    def real_server_ops(self) -> int:
        return self.rs_added + self.rs_deleted


def diff(old: IpvsTable, new: IpvsTable) -> IpvsDiff:
    """Operation counts from ``old`` to ``new`` (kube-proxy's incremental IPVS sync)."""
    va = vu = vd = ra = rd = 0
    for key, (vs, rs) in new.servers.items():
        prev = old.servers.get(key)
        if prev is None:
            va += 1
            ra += len(rs)
            continue
        if prev[0] != vs:
            vu += 1
        if prev[1] is not rs:
            ra += len(rs - prev[1])
            rd += len(prev[1] - rs)
    for key, (_, rs) in old.servers.items():
        if key not in new.servers:
            vd += 1
            rd += len(rs)
    sa = sd = 0
    for name in new.ipsets.keys() | old.ipsets.keys():
        a, b = old.ipsets.get(name, frozenset()), new.ipsets.get(name, frozenset())
        if a is not b:
            sa += len(b - a)
            sd += len(a - b)
    return IpvsDiff(va, vu, vd, ra, rd, sa, sd)


def iptables_rules(table: IpvsTable, cfg: IpvsConfig) -> tuple[str, ...]:
    """The iptables rules IPVS mode keeps: a fixed set matching the non-empty ipsets,
    independent of the number of Services (the essential rules of writeIptablesRules,
    as "table: rule" lines)."""

    def has(name: str) -> bool:
        return bool(table.ipsets.get(name))

    nat = [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000",
    ]
    if has("KUBE-LOOP-BACK"):
        nat.append(
            '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE'
        )
    if has("KUBE-CLUSTER-IP"):
        if cfg.masquerade_all:
            nat.append(
                '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'
            )
        elif cfg.cluster_cidr:
            nat.append(
                f'-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s {cfg.cluster_cidr} -j KUBE-MARK-MASQ'
            )
    for name in ("KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL"):
        if has(name):
            if name == "KUBE-EXTERNAL-IP":
                nat.append(
                    f'-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set {name} dst,dst -j KUBE-MARK-MASQ'
                )
            nat.append(
                f'-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set {name} dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT'
            )
            nat.append(
                f'-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set {name} dst,dst -m addrtype --dst-type LOCAL -j ACCEPT'
            )
    if has("KUBE-LOAD-BALANCER"):
        nat.append(
            "-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER"
        )
        if has("KUBE-LOAD-BALANCER-LOCAL"):
            nat.append(
                "-A KUBE-LOAD-BALANCER -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN"
            )
        nat.append("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ")
    node_port_sets = [n for n in sorted(table.ipsets) if n.startswith("KUBE-NODE-PORT-") and has(n)]
    if node_port_sets:
        nat.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
        for name in sorted(node_port_sets, key=lambda n: "-LOCAL-" not in n):
            proto = name.rsplit("-", 1)[1].lower()
            target = "RETURN" if "-LOCAL-" in name else "KUBE-MARK-MASQ"
            nat.append(f"-A KUBE-NODE-PORT -p {proto} -m set --match-set {name} dst -j {target}")
    if has("KUBE-CLUSTER-IP"):
        nat.append("-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT")
    if has("KUBE-LOAD-BALANCER"):
        nat.append("-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT")
    filt = [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ]
    if has("KUBE-HEALTH-CHECK-NODE-PORT"):
        filt.append(
            "-A KUBE-NODE-PORT -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT"
        )
    if has("KUBE-LOAD-BALANCER-FW"):
        filt.append(
            "-A KUBE-PROXY-FIREWALL -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL"
        )
        for name in ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "KUBE-LOAD-BALANCER-SOURCE-IP"):
            if has(name):
                filt.append(
                    f"-A KUBE-SOURCE-RANGES-FIREWALL -m set --match-set {name} dst,dst,src -j RETURN"
                )
        filt.append("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP")
    for name in (
        "KUBE-LOAD-BALANCER",
        "KUBE-CLUSTER-IP",
        "KUBE-EXTERNAL-IP",
        "KUBE-EXTERNAL-IP-LOCAL",
    ):
        if has(name):
            filt.append(f"-A KUBE-IPVS-FILTER -m set --match-set {name} dst,dst -j RETURN")
    if has("KUBE-IPVS-IPS"):
        filt.append(
            "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT"
        )
    return tuple(f"nat: {r}" for r in nat) + tuple(f"filter: {r}" for r in filt)


# -- the kernel -------------------------------------------------------------------------


@dataclass(slots=True)
class _Dest:
    key: RsKey
    weight: int = 1
    active: int = 0
    inactive: int = 0


@dataclass(slots=True)
class _Service:
    vs: VirtualServer
    dests: list[_Dest] = field(default_factory=list)  # kernel list order (adds at head)
    rr_last: RsKey | None = None  # rr: last scheduled dest; None = list head
    wrr_pos: int = -1  # wrr mark->cl as an index; -1 = list head
    wrr_cw: int = 0
    wrr_mw: int = 0
    wrr_di: int = 1
    buckets: list[_Dest | None] = field(default_factory=list)  # sh / dh
    templates: dict[str, tuple[RsKey, float]] = field(default_factory=dict)  # persistence

    def find(self, key: RsKey) -> _Dest | None:
        for d in self.dests:
            if d.key == key:
                return d
        return None

    def dests_changed(self) -> None:
        """The scheduler's add/del/upd_dest hook."""
        sched = self.vs.scheduler
        if sched == "wrr":
            weights = [d.weight for d in self.dests if d.weight > 0]
            di = 0
            for w in weights:
                di = gcd(w, di) if di else w
            self.wrr_di = di or 1
            self.wrr_mw = (max(weights) if weights else 0) - (self.wrr_di - 1)
            self.wrr_pos = -1
            if self.wrr_cw > self.wrr_mw or not self.wrr_cw:
                self.wrr_cw = self.wrr_mw
            elif self.wrr_di > 1:
                self.wrr_cw = (self.wrr_cw // self.wrr_di) * self.wrr_di + 1
        elif sched in ("sh", "dh"):
            self.buckets = _fill_buckets(self.dests, weighted=sched == "sh")


def _fill_buckets(dests: list[_Dest], weighted: bool) -> list[_Dest | None]:
    """ip_vs_sh_reassign / ip_vs_dh_assign: round robin over the destination list
    (sh keeps a destination for ``weight`` consecutive buckets)."""
    if not dests:
        return [None] * TABLE_SIZE
    out: list[_Dest | None] = []
    i = count = 0
    for _ in range(TABLE_SIZE):
        d = dests[i]
        out.append(d)
        count += 1
        if not weighted or count >= d.weight:
            i, count = (i + 1) % len(dests), 0
    return out


def sh_bucket(addr: str) -> int:
    """ip_vs_sh_hashkey (port 0, offset 0): hash_32(addr, 8)."""
    return ((ip_to_int(addr) * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - 8)


def dh_bucket(addr: str) -> int:
    """ip_vs_dh_hashkey: (addr * 2654435761) & 255."""
    return (ip_to_int(addr) * 2654435761) & (TABLE_SIZE - 1)


class IpvsKernel:
    """The IPVS tables of one node's kernel: apply desired tables, schedule connections."""

    def __init__(self) -> None:
        self.services: dict[VsKey, _Service] = {}

    # -- programming --------------------------------------------------------------------

    def apply(self, table: IpvsTable) -> None:
        """Make the kernel match ``table``. Real servers removed while they still have
        connections stay with weight 0 until `close` drains them."""
        for key in [k for k in self.services if k not in table.servers]:
            del self.services[key]
        for key in sorted(table.servers):
            self.apply_one(key, *table.servers[key])

    def apply_one(self, key: VsKey, vs: VirtualServer | None, wanted: frozenset[RsKey]) -> None:
        """Make one virtual server match (``vs`` None: delete it)."""
        if vs is None:
            self.services.pop(key, None)
            return
        svc = self.services.get(key)
        changed = svc is None or svc.vs.scheduler != vs.scheduler
        if svc is None or changed:
            svc = self.services[key] = _Service(vs)
        svc.vs = vs
        for d in list(svc.dests):
            if d.key in wanted and d.weight == 0:  # re-added while draining
                self._delete_dest(svc, d)
                changed = True
            elif d.key not in wanted and d.weight > 0:
                if d.active or d.inactive:
                    d.weight = 0
                else:
                    self._delete_dest(svc, d)
                changed = True
        present = {d.key for d in svc.dests}
        for rs in sorted(wanted - present):
            svc.dests.insert(0, _Dest(rs))
            changed = True
        if changed:
            svc.dests_changed()

    def _delete_dest(self, svc: _Service, d: _Dest) -> None:
        i = svc.dests.index(d)
        if svc.rr_last == d.key:  # ip_vs_rr_del_dest: step back to the previous entry
            svc.rr_last = svc.dests[i - 1].key if i > 0 else None
        del svc.dests[i]

    # -- scheduling -------------------------------------------------------------------

    def schedule(self, key: VsKey, client_ip: str, now: float = 0.0) -> RsKey | None:
        """Pick a real server for a new connection from ``client_ip`` and count it as
        active; None if the virtual server is unknown or has no available server."""
        svc = self.services.get(key)
        if svc is None:
            return None
        dest = None
        if svc.vs.timeout:
            hit = svc.templates.get(client_ip)
            if hit is not None and hit[1] > now:
                d = svc.find(hit[0])
                dest = d if d is not None and d.weight > 0 else None  # expire_quiescent_template
        if dest is None:
            dest = _SCHEDULE[svc.vs.scheduler](svc, client_ip, key[0])
        if dest is None:
            return None
        if svc.vs.timeout:
            svc.templates[client_ip] = (dest.key, now + svc.vs.timeout)
        dest.active += 1
        return dest.key

    def close(self, key: VsKey, backend: RsKey) -> None:
        """A connection to ``backend`` ended; a draining real server goes when idle."""
        svc = self.services.get(key)
        d = svc.find(backend) if svc else None
        if svc is None or d is None or d.active == 0:
            return
        d.active -= 1
        if d.weight == 0 and d.active == 0 and d.inactive == 0:
            self._delete_dest(svc, d)
            svc.dests_changed()

    def connections(self, key: VsKey) -> dict[RsKey, int]:
        """Active connections per real server of one virtual server."""
        svc = self.services.get(key)
        return {d.key: d.active for d in svc.dests} if svc else {}


def _usable(d: _Dest) -> bool:
    return d.weight > 0


def _rr(svc: _Service, client: str, vip: str) -> _Dest | None:
    n = len(svc.dests)
    start = next((i for i, d in enumerate(svc.dests) if d.key == svc.rr_last), -1)
    for step in range(1, n + 1):
        d = svc.dests[(start + step) % n] if start >= 0 else svc.dests[step - 1]
        if _usable(d):
            svc.rr_last = d.key
            return d
    return None


def _wrr(svc: _Service, client: str, vip: str) -> _Dest | None:
    dests = svc.dests
    if svc.wrr_mw <= 0:
        return None
    last = pos = svc.wrr_pos
    last_pass = restarted = False
    stop: int | None = None
    while True:
        for i in range(pos + 1, len(dests)):
            if dests[i].weight >= svc.wrr_cw:
                svc.wrr_pos = i
                return dests[i]
            if i == stop:
                return None
        pos = -1
        svc.wrr_cw -= svc.wrr_di
        if svc.wrr_cw <= 0:
            svc.wrr_cw = svc.wrr_mw
            if last_pass or last == -1:
                return None
            restarted = True
        last_pass = svc.wrr_cw <= svc.wrr_di
        if last_pass and restarted and last != -1:
            stop = last


def _lc(svc: _Service, client: str, vip: str) -> _Dest | None:
    best, low = None, 0
    for d in svc.dests:
        if not _usable(d):
            continue
        overhead = (d.active << 8) + d.inactive
        if best is None or overhead < low:
            best, low = d, overhead
    return best


def _weighted_least(
    svc: _Service, overhead: Callable[[_Dest], int], idle_first: bool
) -> _Dest | None:
    """wlc / sed / nq: minimise overhead / weight (compared by cross-multiplication)."""
    best, low = None, 0
    for d in svc.dests:
        if not _usable(d):
            continue
        doh = overhead(d)
        if idle_first and d.active == 0:
            return d
        if best is None or low * d.weight > doh * best.weight:
            best, low = d, doh
    return best


def _wlc(svc: _Service, client: str, vip: str) -> _Dest | None:
    return _weighted_least(svc, lambda d: (d.active << 8) + d.inactive, False)


def _sed(svc: _Service, client: str, vip: str) -> _Dest | None:
    return _weighted_least(svc, lambda d: d.active + 1, False)


def _nq(svc: _Service, client: str, vip: str) -> _Dest | None:
    return _weighted_least(svc, lambda d: d.active + 1, True)


def _sh(svc: _Service, client: str, vip: str) -> _Dest | None:
    d = svc.buckets[sh_bucket(client)] if svc.buckets else None
    return d if d is not None and _usable(d) else None


def _dh(svc: _Service, client: str, vip: str) -> _Dest | None:
    d = svc.buckets[dh_bucket(vip)] if svc.buckets else None
    return d if d is not None and _usable(d) else None


_SCHEDULE = {
    "rr": _rr,
    "wrr": _wrr,
    "lc": _lc,
    "wlc": _wlc,
    "sh": _sh,
    "dh": _dh,
    "sed": _sed,
    "nq": _nq,
}
