"""Fixtures every test directory shares (the plugin `spaceport.testing.plugin` starts servers)."""

from spaceport.testing.fixtures import nc, pool, registry, store

__all__ = ["nc", "pool", "registry", "store"]
