"""Finding the header row among the first rows of a table, and making header names usable."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_NUMBER = re.compile(r"^[\s$€£+-]*[\d.,]+%?\s*$")


def _looks_like_header(row: Sequence[str], width: int) -> bool:
    cells = [c.strip() for c in row]
    filled = [c for c in cells if c]
    if not filled or len(filled) * 2 < width:  # mostly non-empty
        return False
    if len(set(filled)) * 2 < len(filled):  # mostly distinct (duplicates are renamed later)
        return False
    numeric = sum(1 for c in filled if _NUMBER.match(c))
    return numeric * 2 < len(filled)  # mostly text, not numbers


def find_header_row(rows: Sequence[Sequence[str]]) -> int:
    """Index (0-based) of the header among ``rows``, the first rows of a table (blank rows as ``[]``).

    The header is the first row that is mostly non-empty, distinct, non-numeric strings and whose width
    is the width most of the following rows share; title rows ("Sales report", "Generated …") above it
    are skipped. A file whose first row qualifies (the common case) gets 0."""

    def width(row: Sequence[str]) -> int:
        # Trailing empty cells do not make a row wider (spreadsheets and CSV exports pad rows).
        n = len(row)
        while n and not row[n - 1].strip():
            n -= 1
        return n

    widths = [width(r) for r in rows]
    first_non_blank = next((i for i, w in enumerate(widths) if w), 0)
    for i, row in enumerate(rows):
        if not widths[i]:
            continue
        following = [w for w in widths[i + 1 :] if w]
        reference = widths[i]
        if following:
            reference = max(reference, Counter(following).most_common(1)[0][0])
            # the rows below a header fit under it
            fitting = sum(1 for w in following if w <= len(row))
            if fitting * 10 < len(following) * 8:
                continue
        if _looks_like_header(row, reference):
            return i
    # No row is followed by rows that fit under it (a ragged row in a short sample): the first header-like
    # row of the most common width, else the first row of that width.
    filled = [w for w in widths if w]
    if not filled:
        return first_non_blank
    mode = Counter(filled).most_common(1)[0][0]
    of_mode = [i for i, w in enumerate(widths) if w == mode]
    return next((i for i in of_mode if _looks_like_header(rows[i], mode)), of_mode[0])


def normalize_headers(raw: Sequence[str]) -> list[str]:
    """Strip names, name blank ones by position (``column_3`` for the third column) and make duplicates
    unique in order (``name``, ``name_2``, ``name_3``), never colliding with an existing name."""
    names = [(c or "").strip() or f"column_{i + 1}" for i, c in enumerate(raw)]
    taken = Counter(names)
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
            continue
        n = 2
        while f"{name}_{n}" in seen or (taken[f"{name}_{n}"] and f"{name}_{n}" != name):
            n += 1
        candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out
