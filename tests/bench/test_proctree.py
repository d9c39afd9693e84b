"""bench/proctree.py: the CPU and memory of a process tree, read from /proc."""

from __future__ import annotations

import subprocess
import sys

from bench.proctree import TreeSampler, descendants

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n"


def test_a_child_s_cpu_counts_after_it_exits_and_the_sampler_s_own_does_not():
    tree = TreeSampler(period=0.05).start()
    before = tree.cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", BURN + "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        while child.pid not in tree.cpu or tree.cpu[child.pid] < 0.5:  # seen while it runs
            assert child.poll() is None
            tree.sample()
        assert child.pid in descendants(tree.root)
    finally:
        child.communicate(b"")
    tree.stop()
    assert child.pid not in descendants(tree.root)
    assert tree.cpu[child.pid] >= 0.5  # kept after the child is gone
    assert tree.cpu_seconds() - before >= 0.5
    assert tree.own_cpu > 0
    assert tree.peak_pss > 10 * 2**20  # this interpreter alone is more than 10 MiB
