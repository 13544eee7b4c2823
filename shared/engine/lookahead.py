"""Results computed for windows of items ahead of a per-item loop, so a step that costs per
call (the QuickJS boundary) is called once per window. The loop still meets each item in
order and decides per item (time budget, fail-fast, filters); a window is sized from the
pace so far, so slow items are computed a few at a time, as before."""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from shared.windows import next_window

FIRST = 1                # the first record alone: a slow one is seen before others wait on it
MOST = 256
TARGET_S = 0.05          # work done ahead in one go: small next to any chunk's time budget


class Lookahead:
    """`result(i)` for the items at `indices` (in loop order): computed by
    `compute([i, ...]) -> [result, ...]` for the window of upcoming indices starting at i."""

    def __init__(self, indices: Sequence[int], compute: Callable[[list[int]], list[Any]],
                 first: int = FIRST, most: int = MOST, target_s: float = TARGET_S):
        self.indices = list(indices)
        self._where = {i: k for k, i in enumerate(self.indices)}
        self.compute, self.size, self.most, self.target_s = compute, first, most, target_s
        self._ready: dict[int, Any] = {}
        self.windows = 0

    def result(self, index: int) -> Any:
        if index not in self._ready:
            start = self._where[index]
            window = self.indices[start:start + self.size]
            started = time.monotonic()
            self._ready = dict(zip(window, self.compute(window)))
            self.size = next_window(self.size, time.monotonic() - started, len(window), self.target_s, self.most)
            self.windows += 1
        return self._ready.pop(index)
