"""Fixtures every test directory shares (the plugin `spaceport.testing.plugin` starts servers)."""

from spaceport.testing.fixtures import nc, platform, pool, registry, store

__all__ = ["nc", "platform", "pool", "registry", "store"]
