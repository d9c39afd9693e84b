"""Whole clusters: the `kind: Cluster` spec (`spec.ClusterSpec`, loaded through
`kubesim.specs.load_spec`) and its topology plan (`topology.plan`), which the bootstrap
walks to place machines and actors."""
