"""ResourceQuota admission: evaluators (what an object consumes), the pure request check,
the quota accessor (reads with look-aside cache, status writes) and the batching
evaluator that charges usage into ``status.used`` with optimistic concurrency.
"""
