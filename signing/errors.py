"""Errors raised by the signing layer.

    SigningError                  root of every error in signing
    ├── PkiError                  a key, certificate, CRL or PKI directory cannot be used
    │                             (missing, unreadable, wrong passphrase, key does not match cert)
    ├── SigningFailed             a package cannot be signed (not an EDXML envelope, xmlsec failed)
    └── SignatureInvalid(reason)  a package's signature does not verify; `reason` says why

`SignatureInvalid.reason` is one of `REASONS`, stable strings that the router writes into
refusal notices and the CLI prints in `--json`; the message is for people. No error here is
`retriable`: the same bytes and the same trust store give the same answer every time.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Reason = Literal[
    "unsigned",
    "legacy-signature",
    "bad-digest",
    "bad-signature",
    "untrusted-certificate",
    "certificate-expired",
    "certificate-not-yet-valid",
    "certificate-revoked",
    "wrong-key-usage",
    "organ-mismatch",
    "signature-wrapping",
    "malformed",
]
REASONS: Final[tuple[Reason, ...]] = get_args(Reason)


class SigningError(Exception):
    """Root of every error raised by signing."""

    retriable: bool = False


class PkiError(SigningError):
    """A key, certificate, CRL or PKI directory is missing, unreadable or inconsistent."""


class SigningFailed(SigningError):
    """The package could not be signed."""


class SignatureInvalid(SigningError):
    """The package's signature does not verify; `reason` is one of `REASONS`."""

    def __init__(self, reason: Reason, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown signature failure reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason: Reason = reason
        self.message = message
