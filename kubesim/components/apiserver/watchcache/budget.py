"""``timeBudget`` (k8s.io/apiserver pkg/storage/cacher/time_budget.go): how long dispatching an
event may block on watchers whose buffers are full. It refills with time up to a cap; what a
dispatch does not use goes back."""

from __future__ import annotations


class TimeBudget:
    def __init__(self, max_budget: float, refresh_per_second: float, now: float) -> None:
        self.max_budget = max_budget
        self.refresh_per_second = refresh_per_second
        self.budget = max_budget
        self.last = now

    def take_available(self, now: float) -> float:
        self.budget = min(self.max_budget,
                          self.budget + (now - self.last) * self.refresh_per_second)
        self.last = now
        taken, self.budget = self.budget, 0.0
        return taken

    def return_unused(self, unused: float) -> None:
        if unused > 0:
            self.budget = min(self.max_budget, self.budget + unused)
