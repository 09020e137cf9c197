"""Outbound adapters: the space service's ports on other services (NATS request/reply)."""
