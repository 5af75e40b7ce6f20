"""The ledger against a real PostgreSQL: migrations, directory, hash chain, append-only, error mapping."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio

from axis.errors import (
    LedgerAppendOnly,
    LedgerConflict,
    LedgerError,
    LedgerIntegrityError,
    LedgerUnavailable,
    MigrationError,
    UnknownAgency,
)
from axis.ledger import Ledger, WorkCalendar, migrate, translate
from axis.ledger._migrate import available
from axis.proof import verify_ledger
from signing import DevPki

AT = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)
CALENDAR = WorkCalendar(ZoneInfo("Asia/Ho_Chi_Minh"), time(8), time(17), (0, 1, 2, 3, 4))


@pytest_asyncio.fixture
async def ledger(database_url: str) -> AsyncIterator[Ledger]:
    async with Ledger(database_url, calendar=CALENDAR, arrival_deadline=timedelta(minutes=15), clock=lambda: AT) as led:
        yield led


async def _document(ledger: Ledger, n: int = 1) -> None:
    """A document with events, written through a unit of work as the router does."""
    await ledger.directory.add("000.00.00.G22", "VPCP", at=AT)
    async with ledger.unit_of_work() as uow:
        await uow.record_message(message_id=f"m{n}", kind="edoc", sender="000.00.00.G22", document_id=f"d{n}",
                                 outcome="accepted", reason="", body_sha256="00", sent_at_ms=0, recipients=["r"], at=AT)
        doc = await uow.add_document(document_id=f"d{n}", sender="000.00.00.G22", message_id=f"m{n}", subject="s",
                                     code="1/A", business_type=0, business_reason="", recipients=["r"], body=b"<x/>",
                                     signer_fingerprint="f", at=AT)
        await uow.append_event(doc, at=AT, kind="received", actor="000.00.00.G22", detail={"subject": "Công văn"})
        await uow.append_event(doc, at=AT, kind="status", actor="r", recipient="r", status_code="01")
        await uow.commit()


async def test_migrations_apply_once_and_again_is_a_no_op(ledger: Ledger) -> None:
    assert await migrate(ledger.pool) == []
    versions = await ledger.pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in versions] == [m.version for m in available()] and len(versions) >= 3


async def test_a_database_newer_than_the_code_is_refused(ledger: Ledger) -> None:
    await ledger.pool.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
    with pytest.raises(MigrationError, match="999"):
        await migrate(ledger.pool)


async def test_the_directory_keeps_agencies_and_several_certificates(ledger: Ledger, tmp_path: Path) -> None:
    pki = DevPki(tmp_path)
    pki.init(algorithm="ec")
    _, first = pki.issue("000.00.00.H41", "Nghệ An", algorithm="ec")
    old_pem = first.read_text()
    _, second = pki.issue("000.00.00.H41", "Nghệ An", algorithm="ec")  # key rotation
    await ledger.directory.add("000.00.00.G22", "VPCP", at=AT)
    agency = await ledger.directory.add("000.00.00.H41", "Nghệ An", parent_id="000.00.00.G22",
                                        certificates=[old_pem, second.read_text()], at=AT)
    assert len(agency.fingerprints) == 2 and agency.parent_id == "000.00.00.G22"
    await ledger.directory.add("vxp.saas.03", "Test system", at=AT)  # test shapes are accepted
    disabled = await ledger.directory.disable("000.00.00.H41", at=AT)
    assert not disabled.active and disabled.entry().active is False
    assert [a.organ_id for a in await ledger.directory.list()] == ["000.00.00.G22", "000.00.00.H41", "vxp.saas.03"]
    with pytest.raises(UnknownAgency):
        await ledger.directory.disable("000.00.00.X00", at=AT)
    with pytest.raises(LedgerIntegrityError, match="another agency"):
        await ledger.directory.add("000.00.00.G22", "VPCP", certificates=[old_pem], at=AT)


async def test_events_are_hashed_in_batches_that_detect_tampering(ledger: Ledger) -> None:
    await _document(ledger, 1)
    await _document(ledger, 2)
    report = await verify_ledger(ledger, trust=[], exchange="")
    assert report.ok and (report.events, report.batches, report.unsealed_batches) == (4, 2, 2)
    forged = await ledger.pool.fetchval("SELECT min(seq) + 1 FROM events")
    async with ledger.pool.acquire() as conn:  # a superuser disabling the guard still cannot hide it
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
        await conn.execute("UPDATE events SET actor = 'forged' WHERE seq = $1", forged)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_no_update")
    report = await verify_ledger(ledger, trust=[], exchange="")
    assert not report.ok and report.failure == {"kind": "hash", "problem": "the event's hash does not match its "
                                                "fields", "event": forged, "batch": 1}


async def test_events_cannot_be_updated_or_deleted(ledger: Ledger) -> None:
    await _document(ledger)
    for sql in ("UPDATE events SET actor = 'x'", "DELETE FROM events", "TRUNCATE events"):
        with pytest.raises(LedgerAppendOnly):
            async with ledger.unit_of_work() as uow:
                await uow.fetchval(sql)


async def test_a_unit_of_work_rolls_back_unless_committed(ledger: Ledger) -> None:
    await ledger.directory.add("000.00.00.G22", "VPCP", at=AT)
    async with ledger.unit_of_work() as uow:
        await uow.record_message(message_id="gone", kind="edoc", sender="000.00.00.G22", document_id="d",
                                 outcome="refused", reason="x", body_sha256="00", sent_at_ms=0, recipients=[], at=AT)
    async with ledger.unit_of_work() as uow:
        assert await uow.processed("gone") is None


async def test_driver_errors_are_mapped_at_the_edge(ledger: Ledger, database_url: str) -> None:
    await _document(ledger)
    with pytest.raises(LedgerIntegrityError) as caught:  # unique violation: a tracking row twice
        async with ledger.unit_of_work() as uow:
            await uow.record_message(message_id="m1", kind="edoc", sender="s", document_id="d", outcome="accepted",
                                     reason="", body_sha256="00", sent_at_ms=0, recipients=[], at=AT)
            await uow.flush()  # queued writes reach the database (and fail) at flush or commit
    assert isinstance(caught.value.__cause__, asyncpg.UniqueViolationError)
    cases: list[tuple[BaseException, type[LedgerError], bool]] = [
        (asyncpg.exceptions.SerializationError("x"), LedgerConflict, True),
        (asyncpg.exceptions.DeadlockDetectedError("x"), LedgerConflict, True),
        (asyncpg.exceptions.ForeignKeyViolationError("x"), LedgerIntegrityError, False),
        (asyncpg.exceptions.CheckViolationError("x"), LedgerIntegrityError, False),
        (asyncpg.exceptions.TooManyConnectionsError("x"), LedgerUnavailable, True),
        (asyncpg.exceptions.CannotConnectNowError("x"), LedgerUnavailable, True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("x"), LedgerUnavailable, True),
        (ConnectionRefusedError("x"), LedgerUnavailable, True),
        (asyncio.TimeoutError(), LedgerUnavailable, True),
        (asyncpg.exceptions.UndefinedTableError("x"), LedgerError, False),
    ]
    for driver_error, expected, retriable in cases:
        mapped = translate(driver_error)
        assert type(mapped) is expected and mapped.retriable is retriable, driver_error
    assert translate(ValueError("not a driver error")) is None
    with pytest.raises(LedgerUnavailable):  # a real failed connection
        async with Ledger("postgresql://nobody@127.0.0.1:1/none", calendar=CALENDAR,
                          arrival_deadline=timedelta(minutes=15)):
            pass


async def test_a_stopped_ledger_cannot_be_restarted(database_url: str) -> None:
    ledger = Ledger(database_url, calendar=CALENDAR, arrival_deadline=timedelta(minutes=15))
    await ledger.start()
    await ledger.start()
    await ledger.stop()
    await ledger.stop()
    with pytest.raises(LedgerError):
        await ledger.start()


def test_the_end_of_the_working_day_skips_evenings_and_weekends() -> None:
    friday_evening = datetime(2025, 3, 7, 18, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert CALENDAR.end_of_working_day(friday_evening) == datetime(2025, 3, 10, 17, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


async def test_one_router_leads_and_another_takes_over_when_its_connection_is_gone(ledger: Ledger) -> None:
    """The lead is a session advisory lock: one holder at a time, taken over when the holder's session ends
    (its backend terminated, as when PostgreSQL restarts), and the old holder knows it has lost it."""
    first, second = ledger.leadership(), ledger.leadership()
    try:
        assert await first.is_leader()
        assert not await second.is_leader()
        assert await first.is_leader()  # asked again: still the one
        await ledger.pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        for _ in range(50):  # the server drops the lock with the session
            if await second.is_leader():
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("nobody took the lead after the leader's session ended")
        assert not await first.is_leader()
        await second.close()
        assert await first.is_leader()
    finally:
        await first.close()
        await second.close()
