"""A verdict belongs to the record it judged: after the broker lost its data, offsets start again at 0,
and two records at one (topic, partition, offset) must never trade their bodies."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from exchange_helpers import Pki, document, signed

from axis import wire
from axis.router._verdict import Judge, record_key
from signing import TrustStore, Verifier


def _record(body: bytes, sender: str, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    headers = wire.RecordHeaders(wire.new_message_id(), "edoc", sender, wire.sha256_hex(body), 0).encode()
    return ConsumerRecord(wire.OUTBOUND, 0, offset, 0, 0, b"key", body, None, len(b"key"), len(body), headers)


def test_two_records_at_one_position_keep_their_own_verdicts(dev_pki: Pki) -> None:
    vpcp, nghean = dev_pki.parties["vpcp"], dev_pki.parties["nghean"]
    judge = Judge(Verifier(TrustStore.from_files([dev_pki.pki.ca_path])), max_package_bytes=1 << 20)
    before = _record(signed(vpcp, document(vpcp, [nghean], subject="trước khi mất dữ liệu")), vpcp.organ_id)
    after = _record(signed(nghean, document(nghean, [vpcp], subject="sau khi mất dữ liệu")), nghean.organ_id)

    verdicts = judge.batch([before, after])

    assert record_key(before) != record_key(after)
    for record in (before, after):
        verdict = verdicts[record_key(record)]
        assert verdict.refusal is None and verdict.package is not None
        assert verdict.headers is not None and verdict.headers.body_sha256 == wire.sha256_hex(record.value)
        assert verdict.package.sender == (vpcp.organ_id if record is before else nghean.organ_id)
