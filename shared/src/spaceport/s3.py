"""The S3 client (MinIO SDK; SeaweedFS or MinIO behind it)."""

from __future__ import annotations

from urllib.parse import urlparse

from minio import Minio

from spaceport.settings import Settings


def make_client(settings: Settings) -> Minio:
    url = urlparse(settings.s3_endpoint)
    return Minio(
        url.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=url.scheme == "https",
    )


def ensure_bucket(client: Minio, bucket: str) -> None:
    """Create `bucket` if missing (tolerates a concurrent creator)."""
    if not client.bucket_exists(bucket):
        try:
            client.make_bucket(bucket)
        except Exception:
            if not client.bucket_exists(bucket):
                raise
