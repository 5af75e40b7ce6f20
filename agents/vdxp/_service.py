"""The part of `agents.service.AgentService` the facade calls, as a Protocol.

The facade is one more front end of the agent (like its HTTP API and drop folder): it translates the
national SDK's wire to these calls and never touches the store, the broker or keys itself. Typing against
a Protocol keeps that boundary visible and lets unit tests pass a small in-memory fake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, Sequence

from agents.model import ReceivedItem, SentRecipient, Submission
from axis.wire import DirectoryEntry
from edxml import Package

__all__ = ["DirectoryAdmin", "VdxpService"]

Kind = Literal["edoc", "status"]
TransportStatus = Literal["done", "fail", "processing"]


class VdxpService(Protocol):
    """What the facade needs from the agent (see docs/ARCHITECTURE.md, "The agent")."""

    @property
    def organ_id(self) -> str: ...

    async def submit_package(
        self, data: bytes, *, profile: Literal["strict", "lenient"] = "lenient", source: str = "<api>",
        sign_as: str | None = None, check: Callable[[Package], None] | None = None, via: str = "api",
    ) -> Submission: ...

    async def received(
        self, *, kind: Kind | None = None, pending_only: bool = False, limit: int = 1000
    ) -> list[ReceivedItem]: ...

    async def received_item(self, message_id: str) -> ReceivedItem: ...

    async def acknowledge(
        self, message_id: str, transport_status: TransportStatus, reason: str | None = None
    ) -> ReceivedItem: ...

    async def count_received(self, *, kind: Kind, pending_only: bool = True) -> int: ...

    async def sent(self, *, limit: int = 1000) -> list[SentRecipient]: ...

    async def agencies(self) -> Sequence[DirectoryEntry]: ...


class DirectoryAdmin(Protocol):
    """Changes to the exchange's directory; only the operator's own deployment has one."""

    async def register_agency(self, organ_id: str, name: str, *, parent_id: str | None, email: str) -> None: ...

    async def delete_agency(self, organ_id: str) -> None: ...
