"""Plugins mirroring Flatfile's: job handler, space configure and record hooks."""

from spaceport_listener.plugins.job_handler import Tick, job_handler
from spaceport_listener.plugins.record_hook import bulk_record_hook, record_hook
from spaceport_listener.plugins.space_configure import SpaceSetup, configure_space

__all__ = ["SpaceSetup", "Tick", "bulk_record_hook", "configure_space", "job_handler", "record_hook"]
