"""kube-proxy's pure data-plane core: what a kube-proxy 1.32 node programs, and how a
packet to a Service is routed by it.

No I/O, no asyncio, no ray: the actor (elsewhere) feeds watch events in and multiplies
the work units out by the cost model.

- `model`: Services and EndpointSlices (Kubernetes JSON dicts) -> an immutable,
  structure-sharing `ProxyView`, updated incrementally with a change summary; and the
  per-node endpoint selection (ready, serving-terminating fallback, traffic policies,
  zone hints) every mode shares.
- `iptables`: the iptables-restore rule set a node writes (real chain names and
  probabilities) and kubeproxy_sync_proxy_rules_iptables_total's counts.
- `ipvs`: virtual/real servers, the Linux IPVS schedulers, ipsets, and the diff
  between two syncs.
- `nftables`: the nftables-mode table (chains, verdict maps, sets) and its diff.
- `dataplane`: `route(state, client_ip, vip, port)` picks a backend as the mode would.
- `programming`: the work units of one sync, for the cost model.
"""
