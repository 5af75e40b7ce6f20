"""What every console view reaches through `request.app.state.console`: settings, ledger, accounts, the
receipts projection, health probes and the clock. Built once by `create_console_app`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request

from axis.ledger import Clock, Ledger
from axis.settings import Settings

from ._health import Probe
from ._receipts import OpenReceipts
from ._users import ConsoleUsers

__all__ = ["ConsoleState", "state_of"]


@dataclass(frozen=True, slots=True)
class ConsoleState:
    settings: Settings
    ledger: Ledger
    users: ConsoleUsers
    receipts: OpenReceipts
    probes: Mapping[str, Probe]
    clock: Clock
    page_size: int = 50


def state_of(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state
