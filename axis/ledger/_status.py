"""Status life of one (document, recipient): which status may follow which, and the current state.

Pure functions over the recorded log, no I/O, so the rules read in one place and test without a database.

Order of the forward chain: 01 arrived < 03 accepted < 04 assigned < 05 processing < 06 done; 02 refused
ends it. Statuses may arrive out of order (the recipient's agent resends, or clerks work fast): the
state is the highest code recorded, not the last one received. What cannot happen is refused, judged by
the statuses' own timestamps: nothing after a terminal (02 or 06) in time, no 02 once the document was
accepted, no code twice; only the withdraw/change exchange (13 → 15|16) continues after a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

FORWARD = ("01", "03", "04", "05", "06")
RANK = {code: i + 1 for i, code in enumerate(FORWARD)}
TERMINAL = ("02", "06")
RECIPIENT_CODES = frozenset(("01", "02", "03", "04", "05", "06", "15", "16"))
SENDER_CODES = frozenset(("13",))
CHANGE_KINDS = frozenset(("revoked", "updated", "replaced"))

STATE_OF_CODE = {
    "01": "arrived",
    "02": "refused",
    "03": "accepted",
    "04": "assigned",
    "05": "processing",
    "06": "done",
}


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """What the rules need of one event of a (document, recipient) log, in arrival (seq) order."""

    kind: str  # 'status', 'published', 'delivered', 'undeliverable', 'revoked', 'updated', 'replaced', ...
    status_code: str = ""
    status_at: datetime | None = None


def _statuses(log: Iterable[LoggedEvent]) -> list[LoggedEvent]:
    return [e for e in log if e.kind == "status" and e.status_code]


def open_request(log: Sequence[LoggedEvent]) -> str | None:
    """The withdraw (13) or change (revoke/update/replace) still waiting for a 15/16, if any."""
    pending: str | None = None
    for event in log:
        if event.kind == "status" and event.status_code == "13":
            pending = "withdraw"
        elif event.kind in CHANGE_KINDS:
            pending = event.kind
        elif event.kind == "status" and event.status_code in ("15", "16"):
            pending = None
    return pending


def refusal_reason(code: str, at: datetime, log: Sequence[LoggedEvent]) -> str | None:
    """Why status `code` (timestamp `at`) from the recipient cannot follow `log`; None when it can."""
    if code in ("15", "16"):
        return None if open_request(log) else "no withdraw or change request is waiting for an answer"
    recorded = _statuses(log)
    codes = {e.status_code for e in recorded}
    if code in codes:
        return f"status {code} was already recorded"
    if "02" in codes:
        return "the document was refused (02); no further status can follow"
    if code == "02" and codes & {"03", "04", "05", "06"}:
        return "the document was already accepted; it cannot be refused (02) now"
    for earlier in recorded:
        if earlier.status_code in TERMINAL and earlier.status_at is not None and earlier.status_at <= at:
            return f"status {earlier.status_code} ended processing at {earlier.status_at.isoformat()}; {code} cannot follow"
    if code in TERMINAL and codes & set(TERMINAL):
        return "processing has already ended"
    return None


def withdraw_refusal_reason(log: Sequence[LoggedEvent]) -> str | None:
    """Why the sender cannot ask this recipient to withdraw (13) now; None when it can."""
    if open_request(log) == "withdraw":
        return "a withdrawal was already requested and is not answered yet"
    return None


def current_state(log: Sequence[LoggedEvent], delivery_state: str) -> tuple[str, str]:
    """(state, highest status code) of one recipient: the defined order, not the arrival order."""
    codes = {e.status_code for e in _statuses(log)}
    if "02" in codes:
        return "refused", "02"
    forward = [c for c in codes if c in RANK]
    if forward:
        best = max(forward, key=RANK.__getitem__)
        return STATE_OF_CODE[best], best
    if delivery_state == "acked":
        return "delivered", ""
    if delivery_state == "published":
        return "sent", ""
    return delivery_state, ""


def withdrawal_outcome(log: Sequence[LoggedEvent]) -> str | None:
    """'requested', 'agreed' or 'refused' for the last withdraw exchange with this recipient, else None."""
    outcome: str | None = None
    in_withdraw = False
    for event in log:
        if event.kind != "status":
            if event.kind in CHANGE_KINDS:
                in_withdraw = False
            continue
        if event.status_code == "13":
            outcome, in_withdraw = "requested", True
        elif event.status_code in ("15", "16") and in_withdraw:
            outcome = "agreed" if event.status_code == "15" else "refused"
            in_withdraw = False
    return outcome
