"""The Deployment controller: `controller` (sync, rollouts, status) and `util` (the pure
arithmetic and bookkeeping of deployment_util.go)."""
