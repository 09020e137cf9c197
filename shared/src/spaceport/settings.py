"""Settings read from the environment: the only place that looks at os.environ."""

from __future__ import annotations

import os

import msgspec


def uses_uvloop() -> bool:
    """Whether a service process and the gateway run on uvloop (the default) or, with
    SPACEPORT_LOOP=asyncio, on asyncio's own event loop."""
    return os.environ.get("SPACEPORT_LOOP", "uvloop") != "asyncio"


def nats_servers(url: str) -> list[str]:
    """A `NATS_URL` as the servers to connect to: one URL, or a cluster's comma-separated."""
    return [u.strip() for u in url.split(",") if u.strip()]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the infrastructure is and how this process names itself."""

    service_name: str = "spaceport"
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "postgresql://postgres@127.0.0.1:5433/postgres"
    s3_endpoint: str = "http://127.0.0.1:8333"
    s3_access_key: str = "spaceport"
    s3_secret_key: str = "spaceport-secret"  # noqa: S105 - the local dev server's default, overridden by S3_SECRET_KEY
    s3_bucket: str = "spaceport"
    event_stream: str = "SPACEPORT_EVENTS"
    event_prefix: str = "evt"
    command_prefix: str = "cmd"
    stream_replicas: int = 1
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    dev_secret_key: str = ""
    otel_exporter: str = "console"
    otel_endpoint: str = ""
    request_timeout: float = 10.0
    guest_token_secret: str = ""  # HMAC key of guest tokens; derived from dev_secret_key when empty
    guest_token_ttl: float = 3600.0
    rate_limit_per_second: float = 1000.0  # per API key / token, per gateway process
    rate_limit_burst: int = 2000
    secrets_key: str = ""  # base64 AES-256 key that encrypts secret values; derived from dev_secret_key when empty
    job_timeout: float = 300.0  # a ready/executing job with no ack or progress for this long fails
    job_sweep_interval: float = 1.0  # how often the job service looks for timed-out jobs
    feed_stream: str = "SPACEPORT_FLATFILE_EVENTS"  # Flatfile events relayed for in-cluster subscribers
    feed_prefix: str = "flatfile"  # their subjects: <feed_prefix>.<environment>.<space|_>.<domain>.<topic>
    retention_interval: float = 60.0  # seconds between the space service's data-retention sweeps
    max_file_size: int = 2 * 1024**3  # bytes of one upload (POST /v1/files); larger ones answer 413

    @property
    def nats_servers(self) -> list[str]:
        """`NATS_URL` as the servers to connect to (`nats_servers`)."""
        return nats_servers(self.nats_url)

    @classmethod
    def from_env(cls, service_name: str, env: dict[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: os.environ); unset variables keep defaults."""
        source = os.environ if env is None else env
        fields = {
            "nats_url": "NATS_URL",
            "database_url": "DATABASE_URL",
            "s3_endpoint": "S3_ENDPOINT",
            "s3_access_key": "S3_ACCESS_KEY",
            "s3_secret_key": "S3_SECRET_KEY",
            "s3_bucket": "S3_BUCKET",
            "event_stream": "SPACEPORT_EVENT_STREAM",
            "event_prefix": "SPACEPORT_EVENT_PREFIX",
            "command_prefix": "SPACEPORT_COMMAND_PREFIX",
            "stream_replicas": "SPACEPORT_STREAM_REPLICAS",
            "gateway_host": "GATEWAY_HOST",
            "gateway_port": "GATEWAY_PORT",
            "dev_secret_key": "SPACEPORT_DEV_SECRET_KEY",
            "otel_exporter": "OTEL_TRACES_EXPORTER",
            "otel_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
            "request_timeout": "SPACEPORT_REQUEST_TIMEOUT",
            "guest_token_secret": "SPACEPORT_GUEST_TOKEN_SECRET",
            "guest_token_ttl": "SPACEPORT_GUEST_TOKEN_TTL",
            "rate_limit_per_second": "SPACEPORT_RATE_LIMIT_PER_SECOND",
            "rate_limit_burst": "SPACEPORT_RATE_LIMIT_BURST",
            "secrets_key": "SPACEPORT_SECRETS_KEY",
            "job_timeout": "SPACEPORT_JOB_TIMEOUT",
            "job_sweep_interval": "SPACEPORT_JOB_SWEEP_INTERVAL",
            "feed_stream": "SPACEPORT_FEED_STREAM",
            "feed_prefix": "SPACEPORT_FEED_PREFIX",
            "max_file_size": "SPACEPORT_MAX_FILE_SIZE",
            "retention_interval": "SPACE_RETENTION_INTERVAL",
        }
        values: dict[str, object] = {"service_name": service_name}
        for field, var in fields.items():
            if source.get(var):
                values[field] = source[var]
        return msgspec.convert(values, cls, strict=False)
