"""Projections: durable JetStream consumers that fold events into Postgres read models.

Each batch of events and the checkpoint commit in one Postgres transaction; the ack follows
the commit. A redelivered event (crash after commit, before ack) is at or below the checkpoint
and is skipped, so every event is applied exactly once. Postgres, not the consumer, is the
authority on position: a consumer that is ahead of it is recreated at checkpoint + 1.

By concern: `protocol` (what a read model gives), `consumer` (the durable consumer and its
batches, with prefetch), `pull` (fetches bounded in bytes), `lease` (one active replica),
`apply` (savepoints, poison events), `tracing` (spans), `rebuild` (shadow schema and swap),
`runner` (`ProjectionRunner`, which orchestrates them).
"""

from __future__ import annotations

from spaceport.projection.lease import LEASE_RETRY
from spaceport.projection.protocol import ApplyBatch, Projection
from spaceport.projection.runner import ProjectionRunner
from spaceport.projection.tracing import sampled_trace

_sampled_trace = sampled_trace  # its name before the split (shared/tests/test_projection.py imports it)

__all__ = ["LEASE_RETRY", "ApplyBatch", "Projection", "ProjectionRunner", "sampled_trace"]
