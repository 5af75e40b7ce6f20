"""Evidence bundles of the agency's own documents, asked of the exchange for the document system.

The agent signs each request with the agency's key (the exchange checks it against the directory and that
the agency sent or received the document) and hands the zip back as it came: the bundle is sealed by the
exchange and verified offline with `axis evidence verify`, so the agent adds nothing to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from axis.proof import EVIDENCE_REQUEST_HEADER, sign_evidence_request
from signing import SigningIdentity

from .errors import AgentUnavailable, Conflict, NotFound

__all__ = ["EvidenceClient"]

_TIMEOUT_S = 120.0  # a bundle holds whole packages; the exchange may seal a checkpoint first


class EvidenceClient:
    """Fetches bundles from the exchange's `/evidence` (the router's HTTP, `exchange_url`) as one organ."""

    def __init__(self, organ_id: str, identity: SigningIdentity, exchange_url: str,
                 clock: Callable[[], datetime]) -> None:
        self._organ_id = organ_id
        self._identity = identity
        self._url = exchange_url.rstrip("/") + "/evidence"
        self._clock = clock

    async def bundle(self, document_id: str, *, sender: str | None = None) -> bytes:
        """The zip of `document_id`; `NotFound`, `Conflict` (not ours, several senders, or our request refused),
        `AgentUnavailable` (the exchange does not answer)."""
        header = sign_evidence_request(self._identity, self._organ_id, document_id, sender=sender, at=self._clock())
        params = {"document_id": document_id, **({"sender": sender} if sender else {})}
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
                answer = await client.get(self._url, params=params, headers={EVIDENCE_REQUEST_HEADER: header})
        except httpx.HTTPError as exc:
            raise AgentUnavailable(f"the exchange at {self._url} does not answer ({exc.__class__.__name__}: {exc}); "
                                   "is exchange_url right?") from exc
        if answer.status_code == 200:
            return answer.content
        reason = _reason(answer)
        if answer.status_code == 404:
            raise NotFound(reason)
        if answer.status_code in (401, 403, 409):  # the agency's key, certificate or request: not retriable
            raise Conflict(reason)
        raise AgentUnavailable(f"the exchange answered {answer.status_code}: {reason}")


def _reason(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return answer.text[:300] or answer.reason_phrase
