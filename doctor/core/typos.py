"""Did-you-mean: the edit distance the command line and the config use to answer a typo.

No imports: the command line uses it before anything else is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable


def distance(a: str, b: str) -> int:
    """Edit distance with a swap of two neighbours as one edit (`chekcs` is one from `checks`)."""
    d = [[i + j if not i * j else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def nearest(word: str, known: Iterable[str], limit: int = 2) -> str | None:
    """The known name ``word`` is a typo of (within ``limit`` edits), else None."""
    near = sorted((distance(word, name), name) for name in known)
    return near[0][1] if near and 0 < near[0][0] <= limit else None
