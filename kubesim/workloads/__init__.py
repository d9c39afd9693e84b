"""Synthetic workloads that exercise the runtimes themselves."""
