"""What can be decided about an outbound record without the database: the CPU half of the intake.

Parsing EDXML and verifying XMLDSig cost milliseconds per record. `Judge.batch()` runs for a whole batch in
one worker thread (`asyncio.to_thread`) before the ledger transaction opens, so the event loop (shared
with agents in process) is not stalled and the transaction, which holds the chain lock, spans only
database work. The record is parsed once into an lxml tree; the same tree goes to the strict EDXML reader
and to the signature verifier, so what was verified is exactly what was read.

Checks here, in order: wire headers, kind, body digest, size, EDXML strict (with the directory's organ
ids: the same rule set the agents apply before they sign), header/package agreement, signature against
the exchange CA (+CRL). A refusal is kept as a value: the intake applies it only after
the duplicate check, as before, so a redelivered refused message is still answered from its tracking row.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

import edxml
from axis import wire
from axis.internal_errors import InternalErrors
from signing import SignatureInvalid, Verifier

from ._rules import Refusal

RecordKey = int
_JUDGING = "judging packages"
_log = logging.getLogger("axis.router")


def record_key(record: ConsumerRecord[Any, Any]) -> RecordKey:
    """Identifies one record object of a batch (the batch keeps its records alive while it is handled).

    Not (topic, partition, offset): after the broker lost its data, offsets start again at 0, and a batch
    around a rewind carried two records at one position; a verdict keyed by position was then applied to
    the other record's body (a document stored with another package's bytes).
    """
    return id(record)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The database-free judgement of one record.

    `headers` None: unreadable headers (`problem` says why). For an ack, `ack_ids` (None: malformed,
    `problem` says why). Otherwise either `refusal`, or `package` with its verified `signature`
    (`xmldsig:<algorithm>:<fingerprint>`) and `fingerprint`.
    """

    headers: wire.RecordHeaders | None
    problem: str = ""
    ack_ids: tuple[str, ...] | None = None
    package: edxml.Package | None = None
    signature: str = ""
    fingerprint: str = ""
    refusal: Refusal | None = None


class Judge:
    """Stateless apart from the verifier's certificate cache; one batch at a time (one router loop)."""

    def __init__(self, verifier: Verifier, *, max_package_bytes: int,
                 known_organs: Container[str] | None = None, errors: InternalErrors | None = None) -> None:
        self._verifier = verifier
        self._max_bytes = max_package_bytes
        self.known_organs = known_organs  # the directory: an organ id it holds is valid in any form
        self.errors = errors or InternalErrors("router", _log)

    def batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> dict[RecordKey, Verdict]:
        """Every record of a batch (meant for `asyncio.to_thread`: one thread hop per batch)."""
        return {record_key(r): self.one(r) for r in records}

    def one(self, record: ConsumerRecord[Any, Any]) -> Verdict:
        value: bytes = record.value or b""
        try:
            headers = wire.RecordHeaders.decode(record.headers or ())
        except wire.WireFormatError as exc:
            return Verdict(None, problem=f"bad-headers: {exc}")
        if headers.kind == "ack":
            try:
                return Verdict(headers, ack_ids=tuple(wire.decode_ack(value)))
            except wire.WireFormatError as exc:
                return Verdict(headers, problem=str(exc))
        try:
            verdict = self._package(headers, value)
        except Refusal as refusal:
            verdict = Verdict(headers, refusal=refusal)
        except Exception as exc:  # a fault of the router (a bug, a broken native library), not of the package
            error = self.errors.record(_JUDGING, exc)
            return Verdict(headers, refusal=Refusal(
                "internal-error", f"the router failed to check this package (internal error {error.error_id}); "
                                  "send it again"))
        self.errors.succeeded(_JUDGING)
        return verdict

    def _package(self, headers: wire.RecordHeaders, value: bytes) -> Verdict:
        if headers.kind not in ("edoc", "status"):
            raise Refusal("unexpected-kind", f"package-kind {headers.kind!r} does not belong on {wire.OUTBOUND}")
        if wire.sha256_hex(value) != headers.body_sha256:
            raise Refusal("body-digest-mismatch", "the body's SHA-256 differs from the body-sha256 header")
        if len(value) > self._max_bytes:
            raise Refusal("too-large", f"{len(value)} bytes, the limit is {self._max_bytes}")
        try:
            root = edxml.load_tree(value, max_bytes=self._max_bytes)
            package = edxml.parse_package(root, profile="strict", known_organs=self.known_organs)
        except edxml.EdxmlError as exc:
            raise Refusal("invalid-package", str(exc)) from None
        if package.kind != headers.kind:
            raise Refusal("kind-mismatch", f"header says {headers.kind}, the package is {package.kind}")
        if package.sender != headers.sender:
            raise Refusal("sender-mismatch", f"header sender {headers.sender} but From is {package.sender}")
        try:
            verified = self._verifier.verify(root, expected_organ_id=package.sender)
        except SignatureInvalid as exc:
            raise Refusal(exc.reason, str(exc)) from None
        return Verdict(
            headers, package=package, fingerprint=verified.fingerprint_sha256,
            signature=f"xmldsig:{verified.algorithm}:{verified.fingerprint_sha256}",
        )
