"""Flatfile events: a projection of every domain event into Flatfile's event shape, and its delivery.

- `translate` (with `emit`, `topics_*`, `lookups`): domain event -> Flatfile events, pure.
- `projection`: `FeedProjection` (schema `feed`), fed by every domain subject.
- `queries` + `service`: list, get, ack, publish and read-after-cursor (the RPC handlers).
- `notify`: LISTEN/NOTIFY that wakes waiting readers on every replica.
- `relay`: publishes each event once to the `settings.feed_stream` JetStream stream.
"""

from __future__ import annotations

from job_service.feed.lean import LeanRecordsInserted, LeanRecordsUpdated
from job_service.feed.notify import FeedSignal
from job_service.feed.projection import NAME, FeedProjection
from job_service.feed.relay import Relay
from job_service.feed.service import FeedService
from spaceport import runtime
from spaceport.contracts import feed, file, record, snapshot, view, workbook
from spaceport.contracts.feed import AckEvent, GetEvent, ListEvents, PublishEvent, ReadEvents
from spaceport.contracts.space.secret import SECRET_EVENTS
from spaceport.settings import Settings

WORKBOOK_EVENTS = (
    workbook.WorkbookCreated,
    workbook.WorkbookUpdated,
    workbook.WorkbookDeleted,
    workbook.SheetAdded,
    workbook.SheetConfigChanged,
    workbook.SheetDeleted,
    workbook.SheetLocked,
    workbook.SheetUnlocked,
)
# Record events as the feed reads them: the inserted and updated records' ids only.
RECORD_EVENTS = (
    LeanRecordsInserted,
    LeanRecordsUpdated,
    record.RecordsDeleted,
    record.RecordsRestored,
    record.CommitCreated,
    record.CommitCompleted,
)


STREAM_READERS = 256  # SSE connections one job-service process serves at once (each holds a waiting read)


def install(rt: runtime.ServiceRuntime, settings: Settings) -> None:
    """Register the feed's event types, projection, RPC handlers and background tasks on `rt`."""
    # Views have no Flatfile topic, but the feed reads every subject: it decodes them to skip them.
    rt.registry.register(*WORKBOOK_EVENTS, *RECORD_EVENTS, *SECRET_EVENTS, *file.EVENTS, *feed.EVENTS, *view.EVENTS)
    rt.registry.register(*snapshot.EVENTS)
    rt.add_projection(FeedProjection(settings.event_prefix))
    signal = FeedSignal(settings.database_url)
    service = FeedService(
        pool=lambda: rt.pool, store=rt.store, runner=lambda: rt.single_runner(NAME), signal=signal, claims=rt.claims
    )
    # Reads of the stream wait (long polls) and acks wait for the feed to apply them: each
    # subject takes several requests at once, so one waiting reader never holds up the others.
    rt.rpc.handle(ListEvents, workers=8)(service.list)
    rt.rpc.handle(GetEvent, workers=8)(service.get)
    rt.rpc.handle(AckEvent, workers=16)(service.ack)
    rt.rpc.handle(PublishEvent)(service.publish)
    rt.rpc.handle(ReadEvents, workers=STREAM_READERS)(service.read)
    rt.add_background(signal)
    rt.add_background(Relay(settings, lambda: rt.pool, lambda: rt.broker.connection, signal))
