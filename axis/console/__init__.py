"""The web console for the exchange's operators: server-rendered pages over the ledger, each also as JSON.

Public API; the implementation lives in the private modules. `axis up` serves it on `console_port`
(9401), `axis console` on its own next to a production router; accounts are `axis console user ...`.
See docs/CONSOLE.md.
"""

from ._app import create_console_app
from ._health import Probe, http_probe, router_probe
from ._receipts import OpenReceipts, OverdueCount, ProjectionLag, workday_cutoff
from ._service import Console, open_console
from ._session import console_secret
from ._users import MIN_PASSWORD_LENGTH, ROLES, ConsoleUser, ConsoleUsers, Role

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "Console",
    "ConsoleUser",
    "ConsoleUsers",
    "OpenReceipts",
    "OverdueCount",
    "Probe",
    "ProjectionLag",
    "Role",
    "console_secret",
    "create_console_app",
    "http_probe",
    "open_console",
    "router_probe",
    "workday_cutoff",
]
