"""NATS_URL names one server or a cluster (comma-separated): every client connects with the list."""

from __future__ import annotations

import pytest

from spaceport.settings import Settings

pytestmark = pytest.mark.unit


def test_one_url_is_one_server() -> None:
    assert Settings.from_env("x", {"NATS_URL": "nats://a:4222"}).nats_servers == ["nats://a:4222"]


def test_a_cluster_url_is_every_node_in_order() -> None:
    settings = Settings.from_env("x", {"NATS_URL": "nats://a:4222, nats://b:4223,,nats://c:4224"})
    assert settings.nats_servers == ["nats://a:4222", "nats://b:4223", "nats://c:4224"]
