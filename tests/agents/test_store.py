"""The store's contract: what the outbox, inbox and unit of work promise to the rest of the agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.errors import NotFound
from agents.store import InboxEntry, OutboxEntry, Store
from axis.wire import DirectoryEntry, Notice, new_message_id, sha256_hex


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def outbox_entry(document_id: str = "A,2024/01/01,1/X", body: bytes = b"<x/>", to: tuple[str, ...] = ("B", "C")) -> OutboxEntry:
    return OutboxEntry(new_message_id(), "edoc", document_id, to, sha256_hex(body), body, sha256_hex(body),
                       subject="s", code_notation="X")


def inbox_entry(message_id: str | None = None, document_id: str = "B,2024/01/01,2/Y", kind: str = "edoc") -> InboxEntry:
    return InboxEntry(message_id or new_message_id(), kind, "B", document_id, ("A",), "subj",  # type: ignore[arg-type]
                      None if kind == "edoc" else "03", "", 0, "B", b"<doc/>", 1_700_000_000_000)


@pytest.fixture
async def store(tmp_path: Path):
    clock = FakeClock()
    async with Store(tmp_path / "agent.sqlite", clock=clock, synchronous="NORMAL") as s:
        s.clock = clock  # type: ignore[attr-defined]
        yield s


async def test_an_outbox_row_stays_pending_until_the_router_accepts_it(store: Store) -> None:
    entry = outbox_entry()
    async with store.unit_of_work() as uow:
        sub = await uow.add_outbox(entry)
        await uow.commit()
    assert not sub.duplicate and sub.message_id == entry.message_id
    assert [r.message_id for r in await store.due(10)] == [entry.message_id]
    await store.mark_published([(entry.message_id, 5, store.clock.now + 30_000)])  # type: ignore[attr-defined]
    assert await store.due(10) == []
    assert await store.count_pending() == 1
    await store.resend_all_pending()
    row = (await store.due(10))[0]
    assert row.first_sent_at_ms == 5 and row.attempts == 1
    assert await store.apply_notice(Notice(entry.message_id, "accepted"))
    assert await store.count_pending() == 0
    assert {s.state for s in await store.sent()} == {"accepted"}
    assert not await store.apply_notice(Notice(new_message_id(), "accepted"))


async def test_the_first_sent_at_survives_resends(store: Store) -> None:
    entry = outbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_outbox(entry)
        await uow.commit()
    await store.mark_published([(entry.message_id, 100, 0)])
    await store.mark_published([(entry.message_id, 200, 0)])
    row = (await store.due(1))[0]
    assert (row.first_sent_at_ms, row.attempts) == (100, 2)


async def test_submitting_the_same_bytes_twice_returns_the_first_submission(store: Store) -> None:
    first, second = outbox_entry(), outbox_entry()
    for entry in (first, second):
        async with store.unit_of_work() as uow:
            sub = await uow.add_outbox(entry)
            await uow.commit()
    assert sub.duplicate and sub.message_id == first.message_id
    assert len(await store.due(10)) == 1
    assert len(await store.sent()) == 2  # one row per recipient


async def test_a_unit_of_work_without_commit_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as uow:
            await uow.add_outbox(outbox_entry())
            await uow.add_inbox(inbox_entry(), "d1")
            raise RuntimeError("crash between the writes")
    assert await store.due(10) == [] and await store.received() == []
    assert await store.unacked_deliveries() == []


async def test_a_redelivered_message_is_stored_once_but_acked_again(store: Store) -> None:
    entry = inbox_entry()
    for _ in range(2):
        async with store.unit_of_work() as uow:
            inserted = await uow.add_inbox(entry, "d1")
            await uow.commit()
        if _ == 0:
            assert inserted
            assert await store.unacked_deliveries() == ["d1"]
            await store.mark_acked(["d1"])
    assert not inserted
    assert await store.unacked_deliveries() == ["d1"]
    assert len(await store.received()) == 1
    assert await store.count_received(kind="edoc") == 1


async def test_acknowledging_a_received_item_is_idempotent(store: Store) -> None:
    entry = inbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_inbox(entry, None)
        await uow.commit()
    for _ in range(2):
        await store.set_transport_status(entry.message_id, "done", None)
    assert (await store.received_item(entry.message_id)).transport_status == "done"
    assert await store.received(pending_only=True) == []
    with pytest.raises(NotFound):
        await store.set_transport_status("nope", "done", None)


async def test_a_revocation_marks_the_earlier_document(store: Store) -> None:
    first, revoke = inbox_entry(), inbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_inbox(first, None)
        await uow.add_inbox(revoke, None)
        assert await uow.mark_superseded("B", [first.document_id], "revoked", revoke.message_id) == 1
        await uow.commit()
    item = await store.received_item(first.message_id)
    assert (item.superseded, item.superseded_by) == ("revoked", revoke.message_id)


async def test_a_status_from_a_recipient_updates_its_row_only(store: Store) -> None:
    entry = outbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_outbox(entry)
        await uow.apply_status(entry.document_id, "B", "03", "registered", 10)
        await uow.apply_status(entry.document_id, "B", "01", "late arrival", 5)  # older: ignored
        await uow.commit()
    rows = {r.recipient: r for r in await store.sent()}
    assert (rows["B"].state, rows["B"].last_status_code) == ("delivered", "03")
    assert (rows["C"].state, rows["C"].last_status_code) == ("pending", None)


async def test_undeliverable_notice_marks_one_recipient(store: Store) -> None:
    entry = outbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_outbox(entry)
        await uow.commit()
    await store.apply_notice(Notice(entry.message_id, "refused", reason="bad-signature"))
    assert {r.state for r in await store.sent()} == {"refused"}
    await store.apply_notice(Notice(entry.message_id, "undeliverable", recipient="C", reason="gave up"))
    assert {r.recipient: r.state for r in await store.sent()} == {"B": "refused", "C": "undeliverable"}


async def test_the_directory_mirror_keeps_the_newest_entry(store: Store) -> None:
    await store.upsert_directory(DirectoryEntry("B", "New name", updated_at_ms=2))
    await store.upsert_directory(DirectoryEntry("B", "Old name", updated_at_ms=1))
    assert [(e.organ_id, e.name) for e in await store.agencies()] == [("B", "New name")]


async def test_received_files_are_exported_once(store: Store) -> None:
    entry = inbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_inbox(entry, None)
        await uow.commit()
    assert [i.message_id for i in await store.unexported()] == [entry.message_id]
    await store.mark_exported([entry.message_id])
    assert await store.unexported() == []


async def test_only_the_outcome_of_an_operators_requeue_may_undo_a_refusal(store: Store) -> None:
    entry = outbox_entry()
    async with store.unit_of_work() as uow:
        await uow.add_outbox(entry)
        await uow.commit()
    await store.apply_notice(Notice(entry.message_id, "refused", "unknown-recipient: C is not in the directory"))
    assert not await store.apply_notice(Notice(entry.message_id, "accepted"))  # a late plain notice changes nothing
    assert {r.state for r in await store.sent()} == {"refused"}
    assert await store.apply_notice(Notice(entry.message_id, "accepted", recipients=("B", "C"), requeued=True))
    assert {r.state for r in await store.sent()} == {"accepted"} and await store.count_pending() == 0
