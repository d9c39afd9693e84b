"""CPU time and memory of a process and all its descendants, read from /proc (Linux).

A Ray run on this machine is a tree of processes under the driver (GCS, raylet, one worker
per Ray actor, ...), so its cost is the tree's: CPU seconds summed over every process that
lived in it, and memory as the sum of proportional set sizes (PSS: a page shared by N
processes, such as Ray's object store, counts 1/N in each, so the sum is what the tree
occupies). `TreeSampler` polls in a thread and keeps the peak and each process's last CPU
reading, so processes that exit before the end still count. Reading a process's PSS makes
the kernel walk its page tables, so PSS is read every `pss_every` samples, and the
sampler's own CPU time is left out of the CPU it reports."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _command(pid: int) -> str:
    """What a process runs: its command line's first two words, shortened (Ray sets
    `ray::NAME` titles on its workers)."""
    try:
        words = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return "?"
    if not words:
        return "?"
    head = Path(words[0]).name
    if head.startswith("python") and len(words) > 1:
        head = Path(words[1]).name if not words[1].startswith("-") else " ".join(words[1:3])
    return head[:60]


def _pss(pid: int) -> int:
    """Proportional set size in bytes (0 when the process is gone)."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents.setdefault(st[0], []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


@dataclass
class TreeSampler:
    """Polls the tree under `root` every `period` seconds until stopped."""

    root: int = field(default_factory=os.getpid)
    period: float = 1.0
    pss_every: int = 5
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> last CPU seconds read
    commands: dict[int, str] = field(default_factory=dict)  # pid -> what it runs, when first seen
    peak_pss: int = 0
    own_cpu: float = 0.0  # CPU seconds spent sampling
    _samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeSampler:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="proctree", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def sample(self, pss: bool | None = None) -> None:
        started = time.thread_time()
        pss = self._samples % self.pss_every == 0 if pss is None else pss
        self._samples += 1
        total = 0
        for pid in descendants(self.root):
            if (st := _stat(pid)) is not None:
                self.cpu[pid] = st[1]
                if pid not in self.commands:
                    self.commands[pid] = _command(pid)
                if pss:
                    total += _pss(pid)
        self.peak_pss = max(self.peak_pss, total)
        self.own_cpu += time.thread_time() - started

    def cpu_seconds(self) -> float:
        """CPU seconds of every process seen so far (the root's own included), less the
        sampler's own."""
        self.sample(pss=False)
        return sum(self.cpu.values()) - self.own_cpu
