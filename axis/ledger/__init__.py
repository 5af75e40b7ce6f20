"""The PostgreSQL ledger: agency directory, tracking rows, documents, the router's outbox, the event chain.

Public API; the implementation lives in the private modules.
"""

from ._chain import ChainReport, event_hash, verify_rows
from ._deadlines import Overdue, WorkCalendar
from ._directory import Agency, Directory, fingerprint_of_pem
from ._ledger import Clock, Ledger, utc_now
from ._migrate import migrate
from ._ops import Operations, RequeueDue
from ._outbox import DueDelivery, Outbox, PendingNotice
from ._pg import translate
from ._status import (
    SENDER_CODES,
    LoggedEvent,
    current_state,
    refusal_reason,
    withdraw_refusal_reason,
    withdrawal_outcome,
)
from ._refs import DeadLetter, DeadLetterRow
from ._uow import DocumentRef, ProcessedMessage, UnitOfWork, delivery_id_for

__all__ = [
    "SENDER_CODES",
    "Agency",
    "ChainReport",
    "Clock",
    "DeadLetter",
    "DeadLetterRow",
    "Directory",
    "DocumentRef",
    "DueDelivery",
    "Ledger",
    "LoggedEvent",
    "Operations",
    "Outbox",
    "Overdue",
    "PendingNotice",
    "ProcessedMessage",
    "RequeueDue",
    "UnitOfWork",
    "WorkCalendar",
    "current_state",
    "delivery_id_for",
    "event_hash",
    "fingerprint_of_pem",
    "migrate",
    "refusal_reason",
    "translate",
    "utc_now",
    "verify_rows",
    "withdraw_refusal_reason",
    "withdrawal_outcome",
]
