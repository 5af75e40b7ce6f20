"""Errors of the central exchange (`axis`), one tree so callers can catch at the right level.

Driver errors (aiokafka, asyncpg) are translated at the adapter edge and chained (`raise ... from exc`);
nothing above the adapters sees a third-party exception. `retriable` tells delivery code whether to keep
a row unconfirmed and try again later (True) or to give up / dead-letter it (False).

    AxisError
    ├── SettingsError                 bad or missing configuration (env, axis.toml, run.json)
    ├── EmbeddedServiceError          the embedded broker or PostgreSQL could not start or stop
    ├── TransportError                the Kafka adapter failed (axis.transport)
    │   ├── TransportUnavailable      broker unreachable, timed out, leader moving   [retriable]
    │   ├── TopicMismatch             a topic exists with other partition counts than required
    │   └── RecordRejected            the broker refused a record (too large, unknown topic, auth)
    ├── LedgerError                   the PostgreSQL ledger failed (axis.ledger; asyncpg errors mapped)
    │   ├── LedgerUnavailable         cannot connect, connection lost, too many clients   [retriable]
    │   ├── LedgerConflict            serialization failure or deadlock; run it again     [retriable]
    │   ├── LedgerIntegrityError      a constraint refused the write (unique, foreign key, check)
    │   ├── LedgerAppendOnly          someone tried to change or delete a ledger event
    │   ├── MigrationError            a migration failed, or the database is newer than the code
    │   └── UnknownAgency             the directory has no such organ id
    ├── RouterError                   the router cannot run (stopped, unhealthy, misconfigured)
    ├── ProofError                    a checkpoint, time-stamp or evidence bundle cannot be made or does not hold
    │   ├── UnknownDocument           the ledger has no such document (for evidence)
    │   └── NotAParty                 the agency asking for evidence neither sent nor received the document
    └── ConsoleError                  a console account cannot be made or found (axis.console)

Keep the tree above in step with the classes below.
"""

from __future__ import annotations

__all__ = [
    "AxisError",
    "ConsoleError",
    "EmbeddedServiceError",
    "LedgerAppendOnly",
    "LedgerConflict",
    "LedgerError",
    "LedgerIntegrityError",
    "LedgerUnavailable",
    "MigrationError",
    "NotAParty",
    "ProofError",
    "RecordRejected",
    "RouterError",
    "SettingsError",
    "TopicMismatch",
    "TransportError",
    "TransportUnavailable",
    "UnknownAgency",
    "UnknownDocument",
]


class AxisError(Exception):
    """Root of every error raised by the `axis` package."""

    retriable: bool = False


class SettingsError(AxisError):
    """The configuration is invalid, or a required endpoint cannot be found."""


class EmbeddedServiceError(AxisError):
    """An embedded service (Tansu broker, PostgreSQL) failed to start or stop."""


class TransportError(AxisError):
    """The Kafka adapter failed; `retriable` says whether the same operation may succeed later."""


class TransportUnavailable(TransportError):
    """The broker cannot be reached or did not answer in time; try again later."""

    retriable = True


class TopicMismatch(TransportError):
    """A topic exists with a different partition count than the exchange requires."""


class RecordRejected(TransportError):
    """The broker or client refused a record for a reason that a retry will not fix."""


class LedgerError(AxisError):
    """The PostgreSQL ledger failed; asyncpg errors arrive here translated, with the driver error chained."""


class LedgerUnavailable(LedgerError):
    """PostgreSQL cannot be reached or dropped the connection; try again later."""

    retriable = True


class LedgerConflict(LedgerError):
    """A concurrent transaction won (serialization failure, deadlock); the unit of work can be run again."""

    retriable = True


class LedgerIntegrityError(LedgerError):
    """A constraint refused the write: a bug or a race, never fixed by retrying the same write."""


class LedgerAppendOnly(LedgerError):
    """Ledger events are append-only: an UPDATE, DELETE or TRUNCATE was refused by the database."""


class MigrationError(LedgerError):
    """A schema migration failed, or the database has migrations this code does not know."""


class UnknownAgency(LedgerError):
    """The directory has no agency with this organ id."""


class RouterError(AxisError):
    """The router cannot do what was asked (not started, already closed, unhealthy)."""


class ConsoleError(AxisError):
    """A console account cannot be added, found or used as asked (name taken, unknown, weak password)."""


class ProofError(AxisError):
    """A checkpoint, time-stamp or evidence bundle cannot be made, or a proof does not hold."""


class UnknownDocument(ProofError):
    """No document with that DocumentId (and sender) in the ledger."""


class NotAParty(ProofError):
    """An agency asked for the evidence of a document it neither sent nor received."""
