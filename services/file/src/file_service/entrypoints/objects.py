"""The `ObjectStore` port on S3 (the minio SDK, whose calls block: run in a thread)."""

from __future__ import annotations

import asyncio
import logging

from minio import Minio
from minio.error import S3Error

log = logging.getLogger(__name__)


class S3Objects:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def remove(self, key: str) -> None:
        """Remove `key`; a failure is logged, not raised (the file is already deleted)."""
        try:
            await asyncio.to_thread(self.client.remove_object, self.bucket, key)
        except (S3Error, OSError) as error:
            log.warning("could not remove object %s of a deleted file: %s", key, error)
