"""The official `flatfile` SDK against the real platform: environments, spaces, documents, guests.

Every call must succeed and its pydantic models must parse our answers.
"""

from __future__ import annotations

import httpx
from flatfile import Flatfile
from flatfile.commons import Action
from flatfile.guests import GuestConfig, GuestSpace
from flatfile.spaces import SpaceSettings, SpaceSidebarConfig

from spaceport.testing.platform import Platform


def sdk(platform: Platform, token: str | None = None) -> Flatfile:
    return Flatfile(token=token or platform.secret_key, base_url=platform.api)


def test_environments_through_the_sdk(platform: Platform) -> None:
    client = sdk(platform)
    current = client.environments.get("current").data
    assert current.id.startswith("us_env_")
    assert current.account_id == "us_acc_local"
    created = client.environments.create(name="sdk env", is_prod=False, metadata={"team": "a"}).data
    assert created.name == "sdk env"
    secret = created.model_extra["secretKey"] if created.model_extra else None
    assert isinstance(secret, str) and secret.startswith("sk_")
    own = sdk(platform, secret)
    assert own.environments.get(created.id).data.id == created.id
    updated = own.environments.update(created.id, name="sdk env 2", is_prod=True, namespaces=["red"])
    assert updated.name == "sdk env 2"
    assert updated.is_prod is True
    assert updated.namespaces == ["red"]
    listed = client.environments.list(page_size=100)
    assert listed.pagination is not None
    assert created.id in [e.id for e in listed.data]
    assert own.environments.delete(created.id).data is not None
    listed_after = client.environments.list(page_size=100)
    assert created.id not in [e.id for e in listed_after.data]


def test_key_rotation_replaces_both_keys(platform: Platform) -> None:
    client = sdk(platform)
    created = client.environments.create(name="rotating", is_prod=False).data
    assert created.model_extra is not None
    old = created.model_extra["secretKey"]
    rotated = httpx.post(
        f"{platform.api}/environments/{created.id}/keys/rotate", headers={"Authorization": f"Bearer {old}"}
    )
    assert rotated.status_code == 200, rotated.text
    keys = rotated.json()["data"]
    assert keys["secretKey"].startswith("sk_") and keys["publishableKey"].startswith("pk_")
    gone = httpx.get(f"{platform.api}/environments/current", headers={"Authorization": f"Bearer {old}"})
    assert gone.status_code == 401
    assert sdk(platform, keys["secretKey"]).environments.get("current").data.id == created.id


def test_spaces_through_the_sdk(platform: Platform) -> None:
    client = sdk(platform)
    space = client.spaces.create(
        name="SDK space",
        namespace="sdk-ns",
        labels=["a", "b"],
        metadata={"theme": {"root": {"primaryColor": "red"}}, "sidebarConfig": {"showSidebar": True}},
        settings=SpaceSettings(sidebar_config=SpaceSidebarConfig(workbook_sidebar_order=[])),
        access=["*"],
        auto_configure=False,
    ).data
    assert space.id.startswith("us_sp_")
    assert space.name == "SDK space"
    assert space.namespace == "sdk-ns"
    assert space.guest_authentication == ["magic_link"]
    assert space.workbooks_count == 0 and space.files_count == 0
    assert client.spaces.get(space.id).data.labels == ["a", "b"]
    updated = client.spaces.update(space.id, name="SDK space renamed", metadata={"theme": {}}).data
    assert updated.name == "SDK space renamed"
    assert updated.namespace == "sdk-ns"
    found = client.spaces.list(namespace="sdk-ns", search="renamed", sort_field="name", sort_direction="asc")
    assert [s.id for s in found.data] == [space.id]
    assert found.pagination is not None and found.pagination.total_count == 1
    assert client.spaces.archive_space(space.id).data is not None
    assert space.id not in [s.id for s in client.spaces.list(namespace="sdk-ns").data]
    assert [s.id for s in client.spaces.list(namespace="sdk-ns", archived=True).data] == [space.id]
    assert client.spaces.get(space.id).data.archived_at is not None
    client.spaces.unarchive_space(space.id)
    assert client.spaces.get(space.id).data.archived_at is None
    other = client.spaces.create(name="bulk 1").data
    another = client.spaces.create(name="bulk 2").data
    client.spaces.bulk_delete(space_ids=[other.id, another.id])
    client.spaces.delete(space.id)
    for gone in (space.id, other.id, another.id):
        reply = httpx.get(f"{platform.api}/spaces/{gone}", headers={"Authorization": f"Bearer {platform.secret_key}"})
        assert reply.status_code == 404


def test_documents_through_the_sdk(platform: Platform) -> None:
    client = sdk(platform)
    space = client.spaces.create(name="docs").data
    action = Action(operation="submitAction", mode="foreground", label="Submit", primary=True)
    document = client.documents.create(
        space.id, title="Welcome", body="# Hi", treatments=["ephemeral"], actions=[action]
    )
    doc = document.data
    assert doc.id.startswith("us_dc_")
    assert doc.space_id == space.id
    assert doc.actions is not None and doc.actions[0].operation == "submitAction"
    assert client.documents.get(space.id, doc.id).data.title == "Welcome"
    changed = client.documents.update(space.id, doc.id, title="Welcome!", body="# Hello").data
    assert (changed.title, changed.body) == ("Welcome!", "# Hello")
    assert [d.id for d in client.documents.list(space.id).data] == [doc.id]
    client.documents.delete(space.id, doc.id)
    assert client.documents.list(space.id).data == []


def test_guests_through_the_sdk(platform: Platform) -> None:
    client = sdk(platform)
    environment_id = client.environments.get("current").data.id
    space = client.spaces.create(name="guests").data
    invited = client.guests.create(
        request=[
            GuestConfig(
                environment_id=environment_id,
                email="Ada@Example.com",
                name="Ada",
                spaces=[GuestSpace(id=space.id, role="viewer")],  # type: ignore[call-arg]
            )
        ]
    ).data
    guest = invited[0]
    assert guest.id.startswith("us_g_")
    assert guest.email == "ada@example.com"
    assert client.guests.get(guest.id).data.name == "Ada"
    assert [g.id for g in client.guests.list(space_id=space.id).data] == [guest.id]
    assert [g.id for g in client.guests.list(space_id=space.id, email="ada@example.com").data] == [guest.id]
    renamed = client.guests.update(guest.id, name="Ada L.").data
    assert renamed.name == "Ada L."
    token = client.guests.get_guest_token(guest.id, space_id=space.id).data
    assert token.valid
    as_guest = sdk(platform, token.token)
    assert as_guest.spaces.get(space.id).data.id == space.id
    client.guests.delete(guest.id)
    assert client.guests.list(space_id=space.id).data == []
