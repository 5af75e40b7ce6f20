"""The central router: consumes `edx.outbound`, records in the ledger, relays to inboxes, redelivers."""

from ._intake import BatchEffects, Intake
from ._metrics import RouterMetrics
from ._relay import Relay
from ._router import Router
from ._rules import Refusal

__all__ = ["BatchEffects", "Intake", "Refusal", "Relay", "Router", "RouterMetrics"]
