"""Small search helpers used by the FR-Spec Complete demo."""
from typing import Sequence


def binary_search(items: Sequence[int], target: int) -> int:
    """Return the index of target in the sorted items, or -1 when it is absent."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        ⟨cursor⟩
    return -1


def contains(items: Sequence[int], target: int) -> bool:
    return binary_search(items, target) >= 0
