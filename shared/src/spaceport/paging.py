"""Page parameters of every paged read (`pageSize`, `pageNumber`), checked one way everywhere."""

from __future__ import annotations

from spaceport.errors import ValidationFailedError

MAX_OFFSET = 2**63 - 1  # a page's OFFSET is a Postgres bigint


def check(page_size: int, page_number: int, max_page_size: int) -> None:
    """`pageSize` 1..max_page_size and `pageNumber` from 1, small enough that its OFFSET fits a bigint."""
    if not 1 <= page_size <= max_page_size:
        raise ValidationFailedError(f"pageSize must be between 1 and {max_page_size}", key="pageSize")
    if page_number < 1:
        raise ValidationFailedError("pageNumber must be 1 or more", key="pageNumber")
    if (page_number - 1) * page_size > MAX_OFFSET:
        raise ValidationFailedError(f"pageNumber must be at most {MAX_OFFSET // page_size + 1}", key="pageNumber")
