"""Errors raised by the agency agent.

    AgentError(code)              root of every error in agents; `code` is a stable string
    ├── InvalidInput              the caller sent something unusable ('invalid-package', 'invalid-fields',
    │                             'from-mismatch', 'bad-status'); HTTP 400/422
    ├── NotFound                  no such received item, document or attachment ('not-found'); HTTP 404
    ├── Conflict                  the request contradicts what is stored ('conflict'); HTTP 409
    └── AgentUnavailable          the agent is stopping or a background task died ('unavailable'); HTTP 503

The HTTP API, the drop folder and the SDK facade map `code` to their own answers; the message says what is
wrong and, for packages, where (`package.edxml:12: ...`). `retriable` tells a caller whether the same request
may succeed later: only `AgentUnavailable` is.
"""

from __future__ import annotations


class AgentError(Exception):
    """Root of every error raised by the agent; `code` names the failure for programs."""

    retriable: bool = False
    default_code: str = "agent-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InvalidInput(AgentError):
    """The submitted package, fields or status are not acceptable."""

    default_code = "invalid-package"


class NotFound(AgentError):
    """The item asked for does not exist in this agent's store."""

    default_code = "not-found"


class Conflict(AgentError):
    """The request contradicts stored state (e.g. a status for a document this agent never saw)."""

    default_code = "conflict"


class AgentUnavailable(AgentError):
    """The agent cannot serve now (stopping, or unhealthy); the same request may succeed later."""

    default_code = "unavailable"
    retriable = True
