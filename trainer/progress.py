"""A tiny terminal progress bar (no tqdm dependency): bar, loss and samples/s, throttled."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str = "", stream: TextIO | None = None, enabled: bool = True,
                 width: int = 24, interval: float = 0.1) -> None:
        self.total, self.label, self.width, self.interval = total, label, width, interval
        self.stream = stream or sys.stderr
        # a bar redrawn with \r only makes sense on a terminal; logs get the per-epoch lines
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled and bool(isatty and isatty())
        self.done = 0
        self.samples = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, steps: int, samples: int, loss: float) -> None:
        self.done += steps
        self.samples += samples
        now = time.perf_counter()
        if self.enabled and (now - self._last >= self.interval or self.done >= self.total):
            self._last = now
            self._draw(loss, now)

    def rate(self) -> float:
        return self.samples / max(time.perf_counter() - self.start, 1e-9)

    def _draw(self, loss: float, now: float) -> None:
        frac = self.done / max(self.total, 1)
        fill = int(round(frac * self.width))
        bar = "#" * fill + "." * (self.width - fill)
        rate = self.samples / max(now - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} "
                          f"loss {loss:.5f} {rate:,.0f} samples/s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
