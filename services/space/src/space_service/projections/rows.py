"""Rows of the `space` read model -> wire views."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from spaceport.contracts.space import (
    KEY_OPERATIONS,
    ActorRoleView,
    ApiKeyView,
    AppView,
    ConstraintVersionView,
    ConstraintView,
    DocumentView,
    EnvironmentView,
    GuestSpaceView,
    GuestView,
    GuestWorkbookView,
    SpaceView,
    actor_role_id,
    role_id,
)
from spaceport.readmodel import from_jsonb as js

ACCOUNT_ID = "us_acc_local"
SPACE_COLUMNS = (
    "id, environment_id, name, namespace, labels, metadata, settings, auto_configure, created_by,"
    " created_at, updated_at, archived_at, last_activity_at, workbooks_count, files_count, access,"
    " guest_authentication, actions, primary_workbook_id, translations_path, language_override,"
    " display_order, allowed_domains, is_collaborative, app_id, is_app_template, template_id"
)


def environment_view(row: asyncpg.Record) -> EnvironmentView:
    return EnvironmentView(
        id=row["id"],
        account_id=ACCOUNT_ID,
        name=row["name"],
        is_prod=row["is_prod"],
        guest_authentication=js(row["guest_authentication"]),
        metadata=js(row["metadata"]),
        namespaces=js(row["namespaces"]),
        translations_path=row["translations_path"],
        language_override=row["language_override"],
    )


def space_view(row: asyncpg.Record) -> SpaceView:
    return SpaceView(
        id=row["id"],
        environment_id=row["environment_id"],
        name=row["name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        guest_authentication=js(row["guest_authentication"]),
        workbooks_count=row["workbooks_count"],
        files_count=row["files_count"],
        created_by_user_id=row["created_by"],
        last_activity_at=row["last_activity_at"],
        archived_at=row["archived_at"],
        namespace=row["namespace"],
        labels=js(row["labels"]),
        metadata=js(row["metadata"]),
        settings=js(row["settings"]),
        auto_configure=row["auto_configure"],
        is_collaborative=row["is_collaborative"],
        access=js(row["access"]),
        actions=js(row["actions"]),
        primary_workbook_id=row["primary_workbook_id"],
        translations_path=row["translations_path"],
        language_override=row["language_override"],
        display_order=row["display_order"],
        allowed_domains=js(row["allowed_domains"]),
        app_id=row["app_id"],
        is_app_template=row["is_app_template"],
        template_id=row["template_id"],
    )


def document_view(row: asyncpg.Record) -> DocumentView:
    return DocumentView(
        id=row["id"],
        space_id=row["space_id"],
        environment_id=row["environment_id"],
        title=row["title"],
        body=row["body"],
        treatments=js(row["treatments"]),
        actions=js(row["actions"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def guest_view(row: asyncpg.Record, grants: Sequence[asyncpg.Record]) -> GuestView:
    spaces = [
        GuestSpaceView(
            id=g["space_id"], role=g["role"], workbooks=[GuestWorkbookView(id=w) for w in js(g["workbook_ids"])]
        )
        for g in grants
    ]
    return GuestView(
        id=row["id"],
        environment_id=row["environment_id"],
        email=row["email"],
        name=row["name"],
        spaces=spaces,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def api_key_view(row: asyncpg.Record) -> ApiKeyView:
    return ApiKeyView(
        id=row["key_id"],
        type="SECRET" if row["kind"] == "secret" else "PUBLISHABLE",
        environment_id=row["environment_id"],
        account_id=ACCOUNT_ID,
        operations=list(KEY_OPERATIONS[row["kind"]]),
        created_at=row["created_at"],
    )


def actor_role_view(row: asyncpg.Record) -> ActorRoleView:
    return ActorRoleView(
        id=actor_role_id(row["guest_id"], row["space_id"]),
        role_id=role_id(row["role"]),
        actor_id=row["guest_id"],
        resource_id=row["space_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def app_view(row: asyncpg.Record) -> AppView:
    return AppView(
        id=row["id"],
        name=row["name"],
        namespace=row["namespace"],
        type=row["type"],
        entity=row["entity"],
        entity_plural=row["entity_plural"],
        environment_id=row["environment_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        icon=row["icon"],
        metadata=js(row["metadata"]),
        environment_filters=js(row["environment_filters"]),
        blueprint=js(row["blueprint"]),
        deleted_at=row["deleted_at"],
        activated_at=row["activated_at"],
    )


def constraint_view(row: asyncpg.Record) -> ConstraintView:
    return ConstraintView(
        id=row["id"],
        app_id=row["app_id"],
        validator=row["validator"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        description=row["description"],
        function=row["function"],
        options=js(row["options"]),
        label=row["label"],
        version=row["version"],
    )


def constraint_version_view(row: asyncpg.Record) -> ConstraintVersionView:
    return ConstraintVersionView(
        id=row["constraint_id"],
        app_id=row["app_id"],
        validator=row["validator"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["created_at"],
        description=row["description"],
        function=row["function"],
        options=js(row["options"]),
        label=row["label"],
    )
