"""Proof of delivery that stands on its own: checkpoints sealed by the exchange (and time-stamped by an RFC 3161
authority) over the ledger's batches; `verify_ledger` finds a row edited behind the database's back; an
evidence bundle for a document with three recipients and a withdrawal verifies offline, and one altered,
removed or swapped part fails with the reason."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta

from cryptography import x509
from exchange_helpers import Exchange, Party, document, signed, status
from local_tsa import LocalTsa

import edxml
from axis.bootstrap import build_checkpointer, exchange_identity
from axis.embedded import free_port
from axis.ledger import merkle_root
from axis.proof import gather_evidence, seal, verify_bundle, verify_ledger, write_bundle
from signing import SigningIdentity

T0 = datetime(2025, 3, 3, 9, 0)


async def _send(ex: Exchange, party: Party, pkg: edxml.Package) -> None:
    message_id = await ex.agents.send(party.organ_id, signed(party, pkg), pkg.kind, key=pkg.document_id)
    notice = await (await ex.agents.inbox(party.organ_id)).notice_for(message_id)
    assert notice.outcome == "accepted", notice


async def _withdrawn_document(ex: Exchange) -> edxml.DocumentPackage:
    """A document to three recipients: each answers 01, the sender asks to withdraw it (13), two agree (15)."""
    recipients = [ex.nghean, ex.caobang, ex.haiphong]
    doc = document(ex.vpcp, recipients)
    await _send(ex, ex.vpcp, doc)
    for minute, party in enumerate(recipients, start=1):
        await _send(ex, party, status(party, doc, "01", at=T0 + timedelta(minutes=minute)))
    for party in recipients:
        await _send(ex, ex.vpcp, status(ex.vpcp, doc, "13", to=party, at=T0 + timedelta(minutes=10)))
    for party in recipients[:2]:
        await _send(ex, party, status(party, doc, "15", at=T0 + timedelta(minutes=20)))
    return doc


def _ca(ex: Exchange) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(ex.settings.pki_dir.joinpath("ca.pem").read_bytes())


async def _bundle(ex: Exchange, doc: edxml.DocumentPackage, *, tsa_url: str | None = None) -> bytes:
    settings = ex.settings.replace(tsa_url=tsa_url)
    identity = exchange_identity(settings)
    checkpointer = build_checkpointer(settings, ex.ledger, identity, clock=ex.clock)
    material = await gather_evidence(ex.ledger, checkpointer, doc.document_id, sender=None,
                                     ca_pem=ex.settings.pki_dir.joinpath("ca.pem").read_text(),
                                     exchange=settings.exchange_organ_id, archive_dir=None)
    return write_bundle(material, identity)


def _rezip(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The bundle with some files replaced (or removed: None), everything else byte for byte."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    dst.writestr(info, change[info.filename])  # type: ignore[arg-type]
            else:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


async def test_a_bundle_for_three_recipients_and_a_withdrawal_verifies_offline_with_its_time_stamp(
        exchange: Exchange) -> None:
    doc = await _withdrawn_document(exchange)
    async with LocalTsa() as tsa:
        data = await _bundle(exchange, doc, tsa_url=tsa.url)
        assert tsa.requests >= 1
        report = verify_bundle(data, trust=_ca(exchange), exchange="axis.exchange", tsa_trust=[tsa.root])
    assert report.ok, report.as_json()
    assert report.timestamped and report.document_id == doc.document_id
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        summary = zf.read("summary.html").decode()
    assert names[0] == "mimetype" and "META-INF/manifest.xml" in names
    assert len([n for n in names if n.startswith("statuses/")]) == 3 + 3 + 2  # 01s, 13s, 15s
    assert all(party.organ_id in summary for party in (exchange.nghean, exchange.caobang, exchange.haiphong))
    untrusted = verify_bundle(data, trust=_ca(exchange), exchange="axis.exchange")  # TSA root not given
    assert not untrusted.ok and "time-stamp" in untrusted.problems["checkpoints"][0]


async def test_an_altered_removed_or_swapped_part_fails_with_its_reason(exchange: Exchange) -> None:
    doc = await _withdrawn_document(exchange)
    other = document(exchange.vpcp, [exchange.nghean])
    await _send(exchange, exchange.vpcp, other)
    data, other_data = await _bundle(exchange, doc), await _bundle(exchange, other)
    trust = _ca(exchange)
    assert verify_bundle(data, trust=trust, exchange="axis.exchange").ok
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        package, statuses = zf.read("document/package.edxml"), sorted(n for n in zf.namelist() if n.startswith("statuses/"))
    with zipfile.ZipFile(io.BytesIO(other_data)) as zf:
        other_package = zf.read("document/package.edxml")

    altered = package.replace(b"C\xc3\xb4ng v\xc4\x83n", b"C\xc3\xb4ng v\xc4\x83N", 1)
    assert altered != package
    cases = {
        "one byte of the package": ({"document/package.edxml": altered}, {"files", "signatures", "hashes"}),
        "a status removed": ({statuses[0]: None}, {"files", "hashes"}),
        "another document's package": ({"document/package.edxml": other_package}, {"files", "hashes"}),
        "one byte of the summary": ({"summary.html": b"<p>nothing happened</p>"}, {"files"}),
    }
    for what, (change, failing) in cases.items():
        report = verify_bundle(_rezip(data, change), trust=trust, exchange="axis.exchange")
        assert {p for p, problems in report.problems.items() if problems} == failing, (what, report.as_json())
    # Re-sealing the manifest needs the exchange's key: an agency's key (from the same CA) is not it.
    agency = SigningIdentity.from_files(exchange.vpcp.key_path, exchange.vpcp.cert_path)
    forged = write_bundle_with(data, agency)
    report = verify_bundle(forged, trust=trust, exchange="axis.exchange")
    assert report.problems["seal"] and "not by the exchange axis.exchange" in report.problems["seal"][0]


def write_bundle_with(data: bytes, identity: SigningIdentity) -> bytes:
    """The bundle with its manifest sealed again by `identity` (what a forger with an agency key would do)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        evidence = zf.read("META-INF/evidence.json")
    return _rezip(data, {"META-INF/evidence.seal.json": json.dumps(seal(identity, evidence).as_json()).encode()})


async def test_ledger_verify_finds_an_edited_row_a_removed_event_and_a_changed_checkpoint(exchange: Exchange) -> None:
    doc = await _withdrawn_document(exchange)
    ledger, trust = exchange.ledger, _ca(exchange)
    checkpointer = build_checkpointer(exchange.settings, ledger, exchange_identity(exchange.settings), clock=exchange.clock)
    made = await checkpointer.seal_now()
    assert made is not None and (await verify_ledger(ledger, trust=trust, exchange="axis.exchange")).ok

    pool = ledger.pool
    seq = await pool.fetchval("SELECT min(seq) FROM events WHERE document_id = $1 AND kind = 'status'",
                              doc.document_id)
    async with pool.acquire() as conn:  # a superuser disables the append-only guard and edits a row
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute("UPDATE events SET status_code = '06' WHERE seq = $1", seq)
        report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange")
        assert not report.ok and report.failure["kind"] == "hash" and report.failure["event"] == seq  # type: ignore[index]
        await conn.execute("UPDATE events SET status_code = '01' WHERE seq = $1", seq)
        await conn.execute("DELETE FROM events WHERE seq = $1", seq)
        report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange")
        assert not report.ok and report.failure["kind"] == "batch-root"  # type: ignore[index]
        await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
        await conn.execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")
        await conn.execute("UPDATE checkpoints SET root = $2 WHERE id = $1", made.id, merkle_root([]))
        await conn.execute("ALTER TABLE checkpoints ENABLE TRIGGER USER")
    report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange", since=exchange.clock() + timedelta(days=1))
    assert report.ok  # nothing recorded after that day
    report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange")
    assert not report.ok and report.failure["kind"] == "batch-root"  # type: ignore[index]  # the deleted event first


async def test_checkpoints_chain_and_a_changed_one_breaks_its_seal(exchange: Exchange) -> None:
    ledger, trust = exchange.ledger, _ca(exchange)
    checkpointer = build_checkpointer(exchange.settings, ledger, exchange_identity(exchange.settings), clock=exchange.clock)
    for _ in range(2):
        await _send(exchange, exchange.vpcp, document(exchange.vpcp, [exchange.nghean]))
        assert await checkpointer.seal_now() is not None
    assert await checkpointer.seal_now() is None  # nothing new to seal
    first, second = await ledger.proofs.checkpoints()
    assert second.prev_hash == first.hash
    report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange")
    assert report.ok and report.checkpoints == 2 and report.unsealed_batches == 0
    async with ledger.pool.acquire() as conn:
        await conn.execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")
        events = json.loads(first.canonical)["events"]
        forged = first.canonical.replace(f'"events":{events}'.encode(), f'"events":{events + 1}'.encode())
        assert forged != first.canonical
        await conn.execute("UPDATE checkpoints SET canonical = $2 WHERE id = $1", first.id, forged)
        await conn.execute("ALTER TABLE checkpoints ENABLE TRIGGER USER")
    report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange")
    assert not report.ok and report.failure == {  # its content no longer matches what was sealed and chained
        "kind": "checkpoint", "problem": "its content does not match its recorded hash, root or batches",
        "checkpoint": first.id}
    async with ledger.pool.acquire() as conn:  # a forger who also recomputes the hash cannot redo the seal
        await conn.execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")
        await conn.execute("UPDATE checkpoints SET hash = $2 WHERE id = $1", first.id,
                           hashlib.sha256(forged).hexdigest())
        await conn.execute("ALTER TABLE checkpoints ENABLE TRIGGER USER")
    report = await verify_ledger(ledger, trust=trust, exchange="axis.exchange")
    assert not report.ok and report.failure["kind"] == "checkpoint-signature"  # type: ignore[index]
    assert report.failure["checkpoint"] == first.id  # type: ignore[index]


async def test_the_checkpointer_seals_every_m_events_and_stamps_when_the_tsa_answers_again(
        exchange: Exchange) -> None:
    port = free_port()
    settings = exchange.settings.replace(tsa_url=f"http://127.0.0.1:{port}/", checkpoint_events=2,
                                         checkpoint_interval_s=3600)
    checkpointer = build_checkpointer(settings, exchange.ledger, exchange_identity(settings), clock=exchange.clock)
    assert await checkpointer.pass_once() is None  # nothing to seal yet
    await _send(exchange, exchange.vpcp, document(exchange.vpcp, [exchange.nghean]))
    made = await checkpointer.pass_once()  # two events (received, published) waiting: sealed now
    assert made is not None and len(made.batch_ids) >= 1
    [stored] = await exchange.ledger.proofs.checkpoints()
    assert stored.timestamp is None and "time-stamping" in checkpointer.errors.failing()  # the TSA is down
    async with LocalTsa(port) as tsa:
        await checkpointer.pass_once()  # nothing new to seal; the missing token is asked for again
        [stored] = await exchange.ledger.proofs.checkpoints()
        assert stored.timestamp is not None and tsa.requests == 1
        report = await verify_ledger(exchange.ledger, trust=_ca(exchange), exchange="axis.exchange",
                                     tsa_trust=[tsa.root])
    assert report.ok and report.timestamped == 1
