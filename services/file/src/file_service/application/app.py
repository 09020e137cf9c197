"""The file service's use cases as one object: what the entrypoints bind and tests drive."""

from __future__ import annotations

from file_service.application.files import FileHandlers
from file_service.application.ports import FileReads, ObjectStore, WaitFor
from spaceport.ports import EventStorePort


class FileApplication:
    """Files: uploads recorded, updated, deleted (with their objects), read and listed."""

    def __init__(self, store: EventStorePort, reads: FileReads, caught_up: WaitFor, objects: ObjectStore) -> None:
        self.reads = reads
        self.files = FileHandlers(store, reads, caught_up, objects)
