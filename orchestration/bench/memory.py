"""Peak memory and CPU time of the process tree (this process and every child, such as dbt and the
ingest helper), sampled in a thread."""

import os
import threading
import time

import psutil


class MemorySampler:
    """Samples the summed RSS of this process and its descendants every `interval` seconds.

    Summing RSS counts pages shared between processes more than once, so the figure is an upper
    bound of what the tree holds; between samples a short spike can be missed.
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.cpu: list[tuple[float, float]] = []  # (time, CPU seconds used by the tree so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
        self._me = psutil.Process()

    def _tree(self) -> tuple[int, float]:
        """(summed RSS, CPU seconds): finished children count through os.times(), live ones directly."""
        total, t = 0, os.times()
        cpu = t.user + t.system + t.children_user + t.children_system
        try:
            children = self._me.children(recursive=True)
        except psutil.Error:
            children = []
        for p in [self._me, *children]:
            try:
                total += p.memory_info().rss
                if p is not self._me:
                    times = p.cpu_times()
                    cpu += times.user + times.system
            except psutil.Error:
                continue
        return total, cpu

    def _tree_rss(self) -> int:
        return self._tree()[0]

    def _run(self) -> None:
        while not self._stop.is_set():
            now, (rss, cpu) = time.time(), self._tree()
            self.samples.append((now, rss))
            self.cpu.append((now, cpu))
            self._stop.wait(self.interval)

    def cpu_seconds(self, start: float, end: float) -> float | None:
        """CPU seconds the tree used between two wall-clock moments (nearest samples)."""
        if len(self.cpu) < 2:
            return None
        before = [c for t, c in self.cpu if t <= start] or [self.cpu[0][1]]
        after = [c for t, c in self.cpu if t >= end] or [self.cpu[-1][1]]
        return max(after[0] - before[-1], 0.0)

    def start(self) -> "MemorySampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float | None = None, end: float | None = None) -> int:
        """Max summed RSS (bytes) among the samples taken in [start, end] (wall-clock seconds)."""
        lo, hi = start or 0.0, end or float("inf")
        inside = [rss for t, rss in self.samples if lo <= t <= hi]
        if not inside:  # a window shorter than the interval: the nearest sample before it
            before = [rss for t, rss in self.samples if t <= hi]
            inside = before[-1:] or [self._tree_rss()]
        return max(inside)
