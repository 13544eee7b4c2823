"""Sizing windows of work done ahead in one go (records sent to the sandbox in one call,
records extracted ahead of a chunk's per-record loop). Pure."""
from __future__ import annotations


def next_window(size: int, seconds: float, count: int, target_s: float, most: int) -> int:
    """The next window's size after `count` items took `seconds`: about `target_s` of work at
    that pace, at most twice the last size (slow items show before much rides on them), and
    within 1..most. A window of slow items shrinks to one item: per-item work as before."""
    if count <= 0:
        return max(1, min(most, size))
    per_item = seconds / count
    fit = most if per_item <= 0 else int(target_s / per_item)
    return max(1, min(most, 2 * size, fit))
