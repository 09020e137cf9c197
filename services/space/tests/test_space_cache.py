"""`SpaceCache` (GetSpace's answers in process) on a fake runner: what it keeps, drops and refuses.

The races it guards against are played out in order here: a read of Postgres that began before
an event's batch committed must not be kept, nor one from an earlier lease session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import pytest

from space_service.projections.cache import SpaceCache
from spaceport.contracts.space import SpaceView

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeRunner:
    holding: bool = True
    position: int = 10
    sessions: int = 1


def view(space_id: str = "us_sp_one", name: str = "One") -> SpaceView:
    return SpaceView(
        id=space_id, environment_id="us_env_a", name=name, created_at=NOW, updated_at=NOW, guest_authentication=[]
    )


def cache_of(runner: FakeRunner | None) -> SpaceCache:
    return SpaceCache(lambda: runner)


def test_a_view_read_before_any_change_is_kept_and_answered() -> None:
    cache = cache_of(FakeRunner())
    assert cache.get("us_sp_one") is None
    cache.put(cache.ticket(), view())
    assert cache.get("us_sp_one") == view()
    assert (cache.hits, cache.misses) == (1, 1)


def test_an_event_of_the_space_drops_it_and_not_the_others() -> None:
    cache = cache_of(FakeRunner())
    cache.put(cache.ticket(), view())
    cache.put(cache.ticket(), view("us_sp_two"))
    cache.touched("us_sp_one", 11)
    assert cache.get("us_sp_one") is None
    assert cache.get("us_sp_two") is not None
    cache.touched(None, 12)  # an event of no space (an environment's): nothing to drop
    assert cache.get("us_sp_two") is not None


def test_a_read_that_began_before_the_commit_is_not_kept() -> None:
    runner = FakeRunner(position=10)
    cache = cache_of(runner)
    ticket = cache.ticket()  # the read starts ...
    cache.touched("us_sp_one", 11)  # ... the projection applies event 11 in its transaction ...
    cache.put(ticket, view(name="old"))  # ... and the read, which may have seen the old row, ends
    assert cache.get("us_sp_one") is None
    ticket = cache.ticket()  # committed, but the runner's position is not there yet: still refused
    cache.put(ticket, view(name="maybe old"))
    assert cache.get("us_sp_one") is None
    runner.position = 11  # the batch is committed and the position advanced
    cache.put(cache.ticket(), view(name="new"))
    hit = cache.get("us_sp_one")
    assert hit is not None and hit.name == "new"


def test_a_standby_replica_answers_nothing_from_the_cache() -> None:
    runner = FakeRunner()
    cache = cache_of(runner)
    cache.put(cache.ticket(), view())
    runner.holding = False  # another replica projects now: it may change the row at any time
    assert cache.get("us_sp_one") is None
    assert cache.ticket() is None
    cache.put(None, view())
    runner.holding = True
    assert cache.get("us_sp_one") is None  # emptied when the lease was seen lost
    assert cache_of(None).get("us_sp_one") is None  # not started


def test_a_new_lease_session_empties_the_cache_and_refuses_older_reads() -> None:
    runner = FakeRunner(sessions=1)
    cache = cache_of(runner)
    cache.put(cache.ticket(), view())
    old = cache.ticket()
    runner.sessions = 2  # lost and taken again, unseen: another replica may have projected meanwhile
    assert cache.get("us_sp_one") is None
    cache.put(old, view(name="from the old session"))
    assert cache.get("us_sp_one") is None
    cache.put(cache.ticket(), view(name="now"))
    hit = cache.get("us_sp_one")
    assert hit is not None and hit.name == "now"


def test_the_cache_holds_at_most_its_size_and_compacts_what_it_tracks() -> None:
    runner = FakeRunner(position=100)
    cache = SpaceCache(lambda: runner, max_entries=3)
    for n in range(5):
        cache.put(cache.ticket(), view(f"us_sp_{n}"))
    assert len(cache) == 3
    assert cache.get("us_sp_0") is None and cache.get("us_sp_4") is not None
    for n in range(10_001):  # past MAX_TOUCHED: every space counts as touched at the highest
        cache.touched(f"us_sp_t{n}", 50)
    cache.touched("us_sp_late", 200)
    ticket = cache.ticket()
    cache.put(ticket, view("us_sp_t1"))
    assert cache.get("us_sp_t1") is not None  # 50 <= position 100
    cache.put(ticket, view("us_sp_late"))
    assert cache.get("us_sp_late") is None  # 200 > 100
    assert msgspec.json.encode(cache.get("us_sp_t1"))  # a plain view, encodable as the reply


def test_a_read_model_written_by_another_process_empties_the_cache() -> None:
    runner = FakeRunner(position=10)
    cache = cache_of(runner)
    cache.put(cache.ticket(), view())
    cache.touched("us_sp_other", 11)  # this process applies 11 ...
    runner.position = 11  # ... and commits it: nothing of us_sp_one changed
    assert cache.get("us_sp_one") is not None
    before = cache.ticket()
    runner.position = 15  # past anything applied here (a rebuild swapped in, a replica past a lost lease)
    assert cache.get("us_sp_one") is None
    cache.put(before, view(name="read before the jump"))
    assert cache.get("us_sp_one") is None
    cache.put(cache.ticket(), view(name="after"))
    hit = cache.get("us_sp_one")
    assert hit is not None and hit.name == "after"
