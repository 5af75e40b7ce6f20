"""Seed a ledger with synthetic national traffic, set-based in SQL (generate_series), for the console bench
and the console tests.

Each document has 3 recipients and, for each, what the router records for a document that went well:
the document and its tracking row, the delivery (published, acked), and the recipient's 01 (arrived) and
03 (accepted) as status messages, tracking rows and events: 13 events a document. The traffic is spread
over `days` days ending at `now`, so "today" holds about documents / days of them; statuses whose time
would be after `now` are not there yet (the latest documents still owe receipts), and a few receipts are
never sent (every 997th document's first recipient owes its 03, every 4999th's second owes 01 and 03), so
there is something overdue. Agencies get real (self-signed) certificates; refused packages become dead
letters (one per 1,000 documents).

What is not like the router's own rows, because no page reads it: document and status bodies are empty,
event hashes are unique placeholders (the chain does not verify), and the status messages' deliveries back
to the senders are left out. For a bulk seed (`bulk=True`), foreign-key triggers are off while loading
(`session_replication_role = replica`; the data is consistent by construction) and the plain indexes are
dropped first and built again after, which is how a large table is loaded in PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["SeedInfo", "organ_id_of", "seed_ledger"]

NOTATIONS = ["VPCP-TTĐT", "UBND-VX", "SNV-TCBC", "BTC-QLCS", "STTTT-CNTT"]
TOPICS = [
    "triển khai chuyển đổi số", "quyết toán ngân sách nhà nước", "phòng chống thiên tai", "tuyển dụng công chức",
    "cải cách thủ tục hành chính", "đầu tư công trung hạn", "bảo vệ môi trường", "y tế dự phòng",
    "giáo dục phổ thông", "an toàn giao thông", "quy hoạch sử dụng đất", "phát triển nông thôn mới",
    "an ninh mạng", "chính sách người có công", "xuất khẩu lao động", "phòng cháy chữa cháy",
    "kiểm tra công vụ", "dân tộc và tôn giáo", "khoa học và công nghệ", "văn hoá thể thao và du lịch",
]
STUCK_03 = 997  # by default every 997th document: its first recipient never sends 03
STUCK_ALL = 4999  # and every 4999th: its second recipient never sends 01 nor 03
_BULK_TABLES = ["documents", "processed_messages", "deliveries", "status_messages", "events"]


def organ_id_of(i: int) -> str:
    """The organ id of synthetic agency `i` (QĐ 20/2020 shape)."""
    return f"000.00.{i // 90:02d}.H{10 + i % 90:02d}"


@dataclass(frozen=True, slots=True)
class SeedInfo:
    """What was seeded: documents 1..`documents` (their row ids), the agencies, the seed's `now`."""

    documents: int
    agencies: list[str]
    now: dt.datetime


def _certificate(organ_id: str, name: str, now: dt.datetime, days: int) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.USER_ID, organ_id), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


# One batch of documents [lo, hi] with everything each row needs; every INSERT below reads from it.
_BATCH = """
CREATE TEMP TABLE seed_batch ON COMMIT DROP AS
SELECT n, s.organ_id AS sender, ARRAY[r0.organ_id, r1.organ_id, r2.organ_id] AS recipients, b.received_at,
       s.organ_id || ',' || to_char(b.received_at AT TIME ZONE $8, 'YYYY/MM/DD') || ',' || n || '/'
           || ($5::text[])[(n % cardinality($5::text[]))::int + 1] AS document_id,
       n || '/' || ($5::text[])[(n % cardinality($5::text[]))::int + 1] AS code,
       'V/v ' || ($6::text[])[(n % cardinality($6::text[]))::int + 1] || ' (' || to_char(b.received_at, 'MM/YYYY') || ')'
           AS subject
FROM generate_series($1::bigint, $2::bigint) AS n
CROSS JOIN LATERAL (SELECT $3::timestamptz - make_interval(secs => ($4::bigint - n) * $7::float8 / $4::bigint)
                    AS received_at) AS b
JOIN seed_agencies s ON s.i = n % $9
JOIN seed_agencies r0 ON r0.i = (n % $9 + 1 + (n * 7) % ($9 - 3)) % $9
JOIN seed_agencies r1 ON r1.i = (n % $9 + 2 + (n * 7) % ($9 - 3)) % $9
JOIN seed_agencies r2 ON r2.i = (n % $9 + 3 + (n * 7) % ($9 - 3)) % $9
"""
# Each recipient's statuses: 01 after 30 s..10 min, 03 after 10 min..4 h 10 min; none after `now`.
_STATUSES = """
CREATE TEMP TABLE seed_status ON COMMIT DROP AS
SELECT b.n, b.document_id, k, b.recipients[k + 1] AS organ, c.code,
       b.received_at + make_interval(secs => CASE c.code WHEN '01' THEN 30 + (b.n * 31 + k * 17) % 570
                                                          ELSE 600 + (b.n * 97 + k * 53) % 14400 END) AS at
FROM seed_batch b CROSS JOIN generate_series(0, 2) AS k CROSS JOIN (VALUES ('01'), ('03')) AS c(code)
WHERE NOT (c.code = '03' AND k = 0 AND b.n % $1 = 0) AND NOT (k = 1 AND b.n % $2 = 0)
"""
_INSERTS = [
    "DELETE FROM seed_status WHERE at > $1",
    "INSERT INTO processed_messages (message_id, kind, sender, document_id, outcome, body_sha256, recipients,"
    " processed_at) SELECT 'd' || n, 'edoc', sender, document_id, 'accepted', '', recipients, received_at FROM seed_batch",
    "INSERT INTO documents (id, document_id, sender, message_id, subject, code, recipients, body, signer_fingerprint,"
    " received_at) SELECT n, document_id, sender, 'd' || n, subject, code, recipients, '', 'seed', received_at"
    " FROM seed_batch",
    "INSERT INTO deliveries (delivery_id, message_id, document, recipient, kind, state, attempts, next_attempt_at,"
    " created_at, first_published_at, published_at, acked_at) SELECT 'v' || n || '.' || k, 'd' || n, n,"
    " recipients[k + 1], 'edoc', 'acked', 1, received_at + interval '10 minutes', received_at,"
    " received_at + interval '1 second', received_at + interval '1 second', received_at + interval '2 seconds'"
    " FROM seed_batch CROSS JOIN generate_series(0, 2) AS k",
    "INSERT INTO processed_messages (message_id, kind, sender, document_id, outcome, body_sha256, processed_at)"
    " SELECT 's' || n || '.' || k || '.' || code, 'status', organ, document_id, 'accepted', '', at FROM seed_status",
    "INSERT INTO status_messages (message_id, document, sender, status_code, description, status_at, body,"
    " received_at) SELECT 's' || n || '.' || k || '.' || code, n, organ, code,"
    " CASE code WHEN '01' THEN 'Đã đến' ELSE 'Văn thư: đã tiếp nhận, vào sổ văn bản đến' END,"
    " at - interval '5 seconds', '', at FROM seed_status",
    # events: slot 0 received, 1-3 published, 4-6 delivered, 7-9 status 01, 10-12 status 03 (seq = n * 16 + slot)
    "INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, message_id, detail, prev_hash, hash)"
    " SELECT n * 16, received_at, n, document_id, '', sender, 'received', 'd' || n, '{}', '', 'h' || n * 16"
    " FROM seed_batch",
    "INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, message_id, detail, prev_hash, hash)"
    " SELECT n * 16 + 1 + k, received_at + interval '1 second', n, document_id, recipients[k + 1], 'router',"
    " 'published', 'd' || n, jsonb_build_object('attempt', 1, 'delivery_id', 'v' || n || '.' || k), '',"
    " 'h' || (n * 16 + 1 + k) FROM seed_batch CROSS JOIN generate_series(0, 2) AS k",
    "INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, detail, prev_hash, hash)"
    " SELECT n * 16 + 4 + k, received_at + interval '2 seconds', n, document_id, recipients[k + 1], recipients[k + 1],"
    " 'delivered', jsonb_build_object('delivery_id', 'v' || n || '.' || k), '', 'h' || (n * 16 + 4 + k)"
    " FROM seed_batch CROSS JOIN generate_series(0, 2) AS k",
    "INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, status_code, message_id, detail,"
    " prev_hash, hash) SELECT n * 16 + CASE code WHEN '01' THEN 7 ELSE 10 END + k, at, n, document_id, organ, organ,"
    " 'status', code, 's' || n || '.' || k || '.' || code, jsonb_build_object('status_at', at - interval '5 seconds'),"
    " '', 'h' || (n * 16 + CASE code WHEN '01' THEN 7 ELSE 10 END + k) FROM seed_status",
    # one refused package in a thousand: a dead letter with its headers
    "INSERT INTO dead_letters (message_id, sender, kind, document_id, reason_code, reason, headers, body, refused_at)"
    " SELECT 'x' || n, sender, 'edoc', document_id, 'unsigned', 'unsigned: the package has no signature',"
    " jsonb_build_object('message-id', 'x' || n, 'package-kind', 'edoc', 'sender', sender), '', received_at"
    " FROM seed_batch WHERE n % 1000 = 500",
]


async def _plain_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of the big tables' indexes that back no constraint."""
    rows = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i"
        " JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = ANY($1::text[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", _BULK_TABLES)
    return [(r["name"], r["def"]) for r in rows]


async def seed_ledger(
    conn: asyncpg.Connection, *, documents: int, agencies: int = 95, days: float = 100.0,
    now: dt.datetime | None = None, batch: int = 100_000, bulk: bool = False, tz: str = "Asia/Ho_Chi_Minh",
    stuck_03: int = STUCK_03, stuck_all: int = STUCK_ALL, progress: Callable[[str], None] | None = None,
) -> SeedInfo:
    """Fill an empty, migrated ledger; returns what was seeded. `bulk` for millions (see the module doc);
    `stuck_03`, `stuck_all`: every how many documents a recipient never sends 03, or anything."""
    if agencies < 4:
        raise ValueError("the seed needs at least 4 agencies (3 recipients besides the sender)")
    started = time.monotonic()
    now = now or dt.datetime.now(dt.timezone.utc)
    span_s = days * 86400.0
    organs = [organ_id_of(i) for i in range(agencies)]
    await conn.execute("SET synchronous_commit = off")
    for i, organ in enumerate(organs):
        name = f"UBND Tỉnh số {i}" if i % 3 else f"Bộ số {i} - Văn phòng"
        await conn.execute("INSERT INTO agencies (organ_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
                           organ, name, now - dt.timedelta(days=days))
        pem = _certificate(organ, name, now, 30 + (i * 37) % 700)
        fingerprint = x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()
        await conn.execute("INSERT INTO agency_certificates (fingerprint_sha256, organ_id, pem, added_at)"
                           " VALUES ($1, $2, $3, $4)", fingerprint, organ, pem, now - dt.timedelta(days=days))
    await conn.execute("CREATE TEMP TABLE seed_agencies (i int PRIMARY KEY, organ_id text NOT NULL)")
    await conn.executemany("INSERT INTO seed_agencies VALUES ($1, $2)", list(enumerate(organs)))
    dropped: list[tuple[str, str]] = []
    if bulk:
        dropped = await _plain_indexes(conn)
        for name, _ in dropped:
            await conn.execute(f"DROP INDEX {name}")
        await conn.execute("SET session_replication_role = replica")
    for lo in range(1, documents + 1, batch):
        hi = min(documents, lo + batch - 1)
        async with conn.transaction():
            await conn.execute(_BATCH, lo, hi, now, documents, NOTATIONS, TOPICS, span_s, tz, agencies)
            await conn.execute(_STATUSES, stuck_03, stuck_all)
            await conn.execute(_INSERTS[0], now)
            for sql in _INSERTS[1:]:
                await conn.execute(sql)
        if progress:
            progress(f"seeded documents {lo:,}..{hi:,} ({time.monotonic() - started:.0f} s)")
    if bulk:
        await conn.execute("SET session_replication_role = origin")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in dropped:
            if progress:
                progress(f"building index {name} ({time.monotonic() - started:.0f} s)")
            await conn.execute(definition)
    await conn.execute("SELECT setval('documents_id_seq', $1)", documents)
    await conn.execute("SELECT setval('events_seq', $1)", documents * 16 + 15)
    await conn.execute(f"VACUUM (ANALYZE) {', '.join(_BULK_TABLES)}, agencies, agency_certificates, dead_letters")
    return SeedInfo(documents, organs, now)
