"""Authentication of one SDK call: HMAC-SHA256 over the `XroadVnpt-sign-header` JSON.

What the client does (docs in /shared/vdxp-sdk-wire): it lists the signed parameter names in
`XroadVnpt-sign-header-key` (`;`-joined), puts `{"XroadVnpt-<name>": value, ...}` in that order in
`XroadVnpt-sign-header`, and sends the lowercase hex HMAC of that exact string, keyed with the secret's
UTF-8 bytes, in `XroadVnpt-hash-header`. Every parameter also travels as its own header.

What we check, and why:
- the HMAC, over the raw header bytes (re-serialising the JSON could change it);
- that each signed value equals the header actually sent, since handlers read the headers;
- that a handler only ever reads *signed* parameters (`SignedCall.param`): the timestamp never changes, so
  a captured request can be replayed forever and unsigned headers could be altered on the way.
The timestamp is not checked for freshness unless the client is registered with a window: the SDK sets it
once when the client object is created. Replays are harmless because every call is idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from ._answers import VdxpFailure
from ._registry import SdkClient, SdkClientRegistry

__all__ = ["PREFIX", "SignedCall", "authenticate", "parse_sdk_timestamp", "read_headers"]

PREFIX = "xroadvnpt-"
_VN_TIME = timezone(timedelta(hours=7))  # the SDK writes local time without a zone; Vietnam has no DST


def read_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, list[bytes]]:
    """All headers by lower-case name, keeping every occurrence and the exact bytes."""
    headers: dict[str, list[bytes]] = {}
    for name, value in raw:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value)
    return headers


def _text(value: bytes) -> str:
    """Header bytes as text: the Java client writes UTF-8; anything else is kept byte for byte."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _unauthorised(code: str, description: str) -> VdxpFailure:
    return VdxpFailure(401, code, description)


@dataclass(frozen=True, slots=True)
class SignedCall:
    """An authenticated call: its client and the parameters covered by the HMAC (by lower-case name)."""

    client: SdkClient
    signed: Mapping[str, str]
    present: frozenset[str]

    def param(self, name: str) -> str:
        """A parameter the call needs: it must have been sent and signed."""
        value = self.optional(name)
        if value is None:
            raise VdxpFailure(400, "missing-parameter", f"header XroadVnpt-{name} is required for this call")
        return value

    def optional(self, name: str) -> str | None:
        """A parameter the call may use; sent but unsigned is refused rather than silently trusted."""
        key = name.lower()
        if key in self.signed:
            return self.signed[key]
        if key in self.present:
            raise VdxpFailure(
                403, "unsigned-parameter",
                f"header XroadVnpt-{name} is used by this call but is not among the signed headers "
                "(XroadVnpt-sign-header-key)",
            )
        return None


def _single(headers: Mapping[str, list[bytes]], name: str, what: str) -> bytes:
    values = headers.get(name.lower())
    if not values:
        raise _unauthorised("missing-" + what, f"missing header {name}: the call is not authenticated")
    if len(set(values)) > 1:
        raise _unauthorised("ambiguous-" + what, f"header {name} is sent more than once with different values")
    return values[0]


def _signed_pairs(sign_header: bytes, sign_key: str) -> list[tuple[str, str]]:
    """The signed name/value pairs, checked against the key list; names as sent, without the prefix."""
    try:
        pairs = json.loads(sign_header.decode("utf-8"), object_pairs_hook=list)
    except (UnicodeDecodeError, ValueError):
        raise VdxpFailure(403, "bad-sign-header", "XroadVnpt-sign-header is not a JSON object") from None
    if not isinstance(pairs, list) or not all(isinstance(v, str) for _, v in pairs):
        raise VdxpFailure(403, "bad-sign-header", "XroadVnpt-sign-header must be a JSON object of strings")
    names = [n for n in sign_key.split(";") if n]
    if [k.lower() for k, _ in pairs] != [PREFIX + n.lower() for n in names]:
        raise VdxpFailure(
            403, "bad-sign-header",
            "the keys of XroadVnpt-sign-header do not follow XroadVnpt-sign-header-key",
        )
    if len({k.lower() for k, _ in pairs}) != len(pairs):
        raise VdxpFailure(403, "bad-sign-header", "XroadVnpt-sign-header names a parameter twice")
    return [(k[len(PREFIX):], v) for k, v in pairs]


def parse_sdk_timestamp(value: str) -> datetime:
    """`ddMMyyyy'T'HHmmss+SSSS`: Vietnam local time; the `+SSSS` part is a sub-second counter, not a zone."""
    stamp = value.split("+", 1)[0]
    return datetime.strptime(stamp, "%d%m%YT%H%M%S").replace(tzinfo=_VN_TIME)


def _check_fresh(client: SdkClient, timestamp: str, now: datetime) -> None:
    if client.freshness_window_s is None:
        return
    try:
        at = parse_sdk_timestamp(timestamp)
    except ValueError:
        raise _unauthorised("bad-timestamp", f"XroadVnpt-timestamp {timestamp!r} is not ddMMyyyyTHHmmss+SSSS") from None
    if abs((now - at).total_seconds()) > client.freshness_window_s:
        raise _unauthorised(
            "stale-timestamp",
            f"XroadVnpt-timestamp {timestamp} is outside this client's window of {client.freshness_window_s} s",
        )


def authenticate(
    headers: Mapping[str, list[bytes]],
    registry: SdkClientRegistry,
    *,
    now: Callable[[], datetime],
) -> SignedCall:
    """Check the call's HMAC and signed headers; raise `VdxpFailure` (401/403) saying what is wrong."""
    system_id = _text(_single(headers, PREFIX + "systemid", "systemid"))
    sign_key = _text(_single(headers, PREFIX + "sign-header-key", "hmac"))
    sign_header = _single(headers, PREFIX + "sign-header", "hmac")
    received = _text(_single(headers, PREFIX + "hash-header", "hmac")).strip().lower()
    client = registry.get(system_id)
    if client is None:
        raise _unauthorised("unknown-system", f"unknown system id {system_id!r}: not a registered SDK client of this agent")
    expected = hmac.new(client.secret.encode("utf-8"), sign_header, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received):
        raise _unauthorised("bad-hmac", "wrong HMAC: XroadVnpt-hash-header does not match XroadVnpt-sign-header for this system id's secret")
    pairs = _signed_pairs(sign_header, sign_key)
    signed = {name.lower(): value for name, value in pairs}
    for name in ("systemid", "timestamp"):
        if name not in signed:
            raise VdxpFailure(403, "bad-sign-header", f"XroadVnpt-{name} must be among the signed headers")
    for name, value in pairs:
        sent = {_text(v) for v in headers.get(PREFIX + name.lower(), [])}
        if sent != {value}:
            what = "is not sent" if not sent else "differs from the header sent"
            raise VdxpFailure(403, "signed-value-mismatch", f"the signed value of XroadVnpt-{name} {what}")
    _check_fresh(client, signed["timestamp"], now())
    present = frozenset(h[len(PREFIX):] for h in headers if h.startswith(PREFIX))
    return SignedCall(client=client, signed=signed, present=present)
