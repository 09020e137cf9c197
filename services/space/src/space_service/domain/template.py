"""Space templates (pure): what a new space copies from a template space or an app's blueprint.

A copy is by value: the template's fields, workbooks (sheets, fields, actions, settings, labels,
namespace, metadata, treatments; never records) and documents are read once and written into the
new space, so later edits of the template never reach it. The request's own fields win: metadata
is deep-merged (the request wins per key, nested objects merge), every other field is replaced
when the request gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from space_service.domain import limits
from spaceport import blueprint_rules as rules
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.space import AppView, DocumentFields, DocumentView, Json, SpaceFields, SpaceView
from spaceport.contracts.workbook import WorkbookView
from spaceport.errors import ValidationFailedError

MAX_WORKBOOKS = 100
MAX_DOCUMENTS = 100
# Copied from a template space; `isAppTemplate` and `primaryWorkbookId` never are (the copy is
# not a template, and the template's primary workbook id names a workbook of the template).
INHERITED = (
    "name",
    "namespace",
    "labels",
    "metadata",
    "settings",
    "access",
    "guest_authentication",
    "actions",
    "translations_path",
    "language_override",
    "allowed_domains",
)


class WorkbookCopy(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One workbook to create in the new space: an app blueprint entry, or a template's workbook."""

    name: str
    sheets: list[SheetConfig] | None = None
    labels: list[str] | None = None
    namespace: str | None = None
    metadata: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    treatments: list[str] | None = None


class DocumentCopy(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    body: str
    treatments: list[str] = msgspec.field(default_factory=list)
    actions: list[Json] = msgspec.field(default_factory=list)


class Template(msgspec.Struct, frozen=True, kw_only=True):
    """What a new space copies; `source_id` is recorded as its `templateId` (a space or an app id)."""

    source_id: str
    kind: str  # "space" or "app": how errors name the source
    fields: SpaceFields = msgspec.field(default_factory=SpaceFields)
    workbooks: list[WorkbookCopy] = msgspec.field(default_factory=list)
    documents: list[DocumentCopy] = msgspec.field(default_factory=list)
    primary_index: int | None = None  # which copied workbook becomes the new space's primary one


def deep_merge(base: Json, override: Json) -> Json:
    """`override` laid over `base`: per key the override wins, except that two objects merge."""
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        merged[key] = deep_merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def merged_fields(inherited: SpaceFields, requested: SpaceFields) -> SpaceFields:
    """The new space's fields: `requested` over `inherited` (metadata deep-merged)."""
    values = {name: getattr(inherited, name) for name in INHERITED}
    for name, value in msgspec.structs.asdict(requested).items():
        if value is not None:
            values[name] = value
    if inherited.metadata is not None and requested.metadata is not None:
        values["metadata"] = deep_merge(inherited.metadata, requested.metadata)
    return SpaceFields(**values)


def from_space(view: SpaceView, workbooks: Sequence[WorkbookView], documents: Sequence[DocumentView]) -> Template:
    """A template space as it is now: its fields, live workbooks (oldest first) and documents."""
    ordered = sorted(workbooks, key=lambda w: (w.created_at, w.id))
    copies = [_workbook_copy(w) for w in ordered]
    primary = next((i for i, w in enumerate(ordered) if w.id == view.primary_workbook_id), None)
    fields = SpaceFields(**{name: getattr(view, name) for name in INHERITED})
    if not view.name:
        fields = msgspec.structs.replace(fields, name=None)
    docs = [DocumentCopy(title=d.title, body=d.body, treatments=d.treatments, actions=d.actions) for d in documents]
    template = Template(
        source_id=view.id, kind="space", fields=fields, workbooks=copies, documents=docs, primary_index=primary
    )
    check(template)
    return template


def from_blueprint(app: AppView) -> Template:
    """An app's blueprint: a list of workbook configs `{name, sheets, labels?, namespace?, metadata?, …}`."""
    copies = []
    for index, raw in enumerate(app.blueprint or []):
        try:
            copies.append(msgspec.convert(raw, WorkbookCopy))
        except msgspec.ValidationError as problem:
            raise ValidationFailedError(
                f"the blueprint of app {app.id} is not valid: workbook {index}: {problem}", key="appId"
            ) from None
    template = Template(source_id=app.id, kind="app", workbooks=copies)
    check(template)
    return template


def check(template: Template) -> None:
    """Everything checkable before the copy starts: sizes, documents, and the blueprint rules
    (`spaceport.blueprint_rules`, which the workbook service applies too)."""
    if len(template.workbooks) > MAX_WORKBOOKS:
        raise invalid(template, f"it has more than {MAX_WORKBOOKS} workbooks")
    if len(template.documents) > MAX_DOCUMENTS:
        raise invalid(template, f"it has more than {MAX_DOCUMENTS} documents")
    for index, workbook in enumerate(template.workbooks):
        try:
            check_workbook_copy(workbook)
        except ValidationFailedError as problem:
            raise invalid(
                template, f"workbook {index} ({workbook.name!r}) at {problem.key}: {problem.message}"
            ) from None
    try:
        for document in template.documents:
            limits.required_text(document.title, "title")
            limits.text(document.body, "body", limits.MAX_BODY_CHARS)
            limits.strings(document.treatments, "treatments")
            limits.json_size(document.actions, "actions")
    except ValidationFailedError as problem:
        raise invalid(template, f"a document: {problem.message}") from None


def check_workbook_copy(workbook: WorkbookCopy) -> None:
    """The workbook service's blueprint rules, so a bad blueprint is refused before anything is written."""
    rules.check_name(workbook.name, "a workbook", "name")
    rules.check_attributes(
        workbook.labels, metadata=workbook.metadata, settings=workbook.settings, actions=workbook.actions
    )
    sheets = [rules.with_slug(sheet) for sheet in workbook.sheets or []]
    for index, sheet in enumerate(sheets):
        rules.check_sheet(sheet, f"sheets[{index}]")
    rules.check_workbook(sheets, "sheets")


def invalid(template: Template, why: str) -> ValidationFailedError:
    """A 400 that names the template (the app's blueprint, or the template space)."""
    if template.kind == "app":
        return ValidationFailedError(f"the blueprint of app {template.source_id} is not valid: {why}", key="appId")
    return ValidationFailedError(f"template space {template.source_id} cannot be copied: {why}", key="templateId")


def document_fields(copy: DocumentCopy) -> DocumentFields:
    return DocumentFields(title=copy.title, body=copy.body, treatments=copy.treatments, actions=copy.actions)


def _workbook_copy(view: WorkbookView) -> WorkbookCopy:
    return WorkbookCopy(
        name=view.name,
        sheets=[s.config for s in view.sheets or []],
        labels=view.labels,
        namespace=view.namespace,
        metadata=view.metadata,
        settings=view.settings,
        actions=view.actions,
        treatments=view.treatments,
    )
