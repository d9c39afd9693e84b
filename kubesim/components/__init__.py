"""The simulated Kubernetes components, written against `kubesim.runtime` only (never ray)."""
