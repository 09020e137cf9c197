"""Blueprint rules: what makes a sheet config, and a workbook's set of sheets, valid.

They live in `spaceport.blueprint_rules` (the space service checks an app's blueprint with them
too); this module re-exports them for the workbook service.
"""

from __future__ import annotations

from spaceport.blueprint_rules import (
    MAX_CONSTRAINTS,
    MAX_ENUM_OPTIONS,
    MAX_EVENT,
    MAX_FIELDS,
    MAX_JSON,
    MAX_KEY,
    MAX_LABELS,
    MAX_NAME,
    SHEET_ACCESS,
    check_attributes,
    check_field,
    check_name,
    check_sheet,
    check_size,
    check_workbook,
    slugify,
    with_slug,
)

__all__ = [
    "MAX_CONSTRAINTS",
    "MAX_ENUM_OPTIONS",
    "MAX_EVENT",
    "MAX_FIELDS",
    "MAX_JSON",
    "MAX_KEY",
    "MAX_LABELS",
    "MAX_NAME",
    "SHEET_ACCESS",
    "check_attributes",
    "check_field",
    "check_name",
    "check_sheet",
    "check_size",
    "check_workbook",
    "slugify",
    "with_slug",
]
