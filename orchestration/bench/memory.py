"""Peak memory of the process tree (this process and every child, such as dbt), sampled in a thread."""

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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
        self._me = psutil.Process()

    def _tree_rss(self) -> int:
        total = 0
        procs = [self._me]
        try:
            procs += self._me.children(recursive=True)
        except psutil.Error:
            pass
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._tree_rss()))
            self._stop.wait(self.interval)

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
