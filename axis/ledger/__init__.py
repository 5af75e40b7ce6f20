"""The PostgreSQL ledger: agency directory, tracking rows, documents, the router's outbox, the event chain.

Public API; the implementation lives in the private modules.
"""

from ._chain import ChainReport, event_digest, event_hash, verify_rows
from ._deadlines import Overdue, WorkCalendar
from ._directory import Agency, Directory, fingerprint_of_pem
from ._leader import Leadership
from ._ledger import Clock, Ledger, utc_now
from ._merkle import EMPTY_ROOT, inclusion_proof, merkle_root, root_from_proof
from ._migrate import migrate
from ._ops import Operations, RequeueDue
from ._outbox import Claim, DueDelivery, Outbox, PendingNotice
from ._pg import mapped, translate
from ._proofs import BatchRow, CheckpointRow, Proofs
from ._refs import DeadLetter, DeadLetterRow
from ._status import (
    SENDER_CODES,
    LoggedEvent,
    current_state,
    refusal_reason,
    withdraw_refusal_reason,
    withdrawal_outcome,
)
from ._uow import DocumentRef, ProcessedMessage, UnitOfWork, delivery_id_for

__all__ = [
    "EMPTY_ROOT",
    "SENDER_CODES",
    "Agency",
    "BatchRow",
    "ChainReport",
    "CheckpointRow",
    "Claim",
    "Clock",
    "DeadLetter",
    "DeadLetterRow",
    "Directory",
    "DocumentRef",
    "DueDelivery",
    "Leadership",
    "Ledger",
    "LoggedEvent",
    "Operations",
    "Outbox",
    "Overdue",
    "PendingNotice",
    "ProcessedMessage",
    "Proofs",
    "RequeueDue",
    "UnitOfWork",
    "WorkCalendar",
    "current_state",
    "delivery_id_for",
    "event_digest",
    "event_hash",
    "fingerprint_of_pem",
    "inclusion_proof",
    "mapped",
    "merkle_root",
    "migrate",
    "refusal_reason",
    "root_from_proof",
    "translate",
    "utc_now",
    "verify_rows",
    "withdraw_refusal_reason",
    "withdrawal_outcome",
]
