"""From a ledger fact to what it counts: `Tally` records, the unit the stats tables are updated with.

`edx.events` is keyed by DocumentId, the tables by agency. One fact counts for up to two agencies (a
`delivered` fact: the recipient received, the sender's document was delivered), so the app turns each fact
into tallies and sends them on, keyed by agency, to its own `by-agency` topic (faust's repartition): every
update of an agency's figures then happens in that agency's partition, as faust's tables require.

`once` is what a repeat is recognised by. Counts use the fact id and the measure (the router publishes at
least once and republishes the day after a broker epoch change, always under the same id). A refusal uses
the refused package's message id: the ledger may tell it as a `refused` fact, a `status-refused` fact, or
both (a status refused on a known document), and a rebuild reads it from the tracking row; it is one
refusal. Durations use the (document, recipient, status) itself: only the first 01 or 03 of a recipient
counts, whatever its id.
"""

from __future__ import annotations

import faust

from axis.wire import LedgerFact

from ._figures import Measure

__all__ = ["COUNTED_KINDS", "REFUSAL_KINDS", "STATUS_MEASURES", "Tally", "tallies_of"]

COUNTED_KINDS = ("received", "delivered")  # of events with a document; and `status` facts of these codes:
STATUS_MEASURES: dict[str, Measure] = {"01": "to_01", "03": "to_03"}
REFUSAL_KINDS = ("refused", "status-refused")


class Tally(faust.Record, serializer="json"):
    """One count (or one duration sample) for one agency, from one fact."""

    agency: str
    measure: str  # a `Measure`
    at: float  # the fact's `at`, UTC seconds: the window it falls in
    once: str  # repeats of the same fact (or a second first-status) carry the same
    seconds: float = 0.0  # the duration, for to_01 / to_03
    from_ledger: bool = False  # sent by a rebuild from the ledger (counted to know when the rebuild is done)


def tallies_of(fact: LedgerFact, *, from_ledger: bool = False) -> list[Tally]:
    """What `fact` counts for, and for whom; empty for kinds the stats do not count."""
    at = fact.at.timestamp()

    def tally(agency: str, measure: Measure, once: str, seconds: float = 0.0) -> Tally:
        return Tally(agency=agency, measure=measure, at=at, once=once, seconds=seconds, from_ledger=from_ledger)

    if fact.kind == "received":
        return [tally(fact.sender, "sent", f"{fact.id}/sent")]
    if fact.kind == "delivered":
        return [tally(fact.recipient, "received", f"{fact.id}/received"),
                tally(fact.sender, "deliveries", f"{fact.id}/deliveries")]
    if fact.kind in REFUSAL_KINDS:  # `actor` sent the refused package (`sender` is the document's, if any)
        return [tally(fact.actor, "refusals", f"refused/{fact.message_id}")]
    measure = STATUS_MEASURES.get(fact.status_code)
    if fact.kind == "status" and measure is not None and fact.accepted_at is not None:
        seconds = (fact.at - fact.accepted_at).total_seconds()
        return [tally(fact.recipient, measure, f"{measure}/{fact.sender}/{fact.document_id}/{fact.recipient}", seconds)]
    return []
