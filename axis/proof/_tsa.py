"""RFC 3161 time-stamps: ask a time-stamping authority for a token over a digest, and verify one offline.

A checkpoint's signature says the exchange vouches for the chain heads; a time-stamp token from an
independent authority says they existed at a time the exchange cannot back-date. The token is a CMS
SignedData over a TSTInfo (ASN.1 with asn1crypto, signatures with cryptography). Verifying checks, in order:
the TSTInfo's message imprint is SHA-256 of the expected digest; the signed attributes name the TSTInfo
content and carry its digest; the signature verifies with the signer's certificate; that certificate is for
time-stamping (extended key usage) and was issued by (or is) a trusted certificate.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import httpx
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from axis.errors import ProofError

__all__ = ["request_timestamp", "timestamp_request", "verify_timestamp"]

_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def timestamp_request(digest: bytes, nonce: int | None = None) -> bytes:
    """A DER TimeStampReq for a SHA-256 `digest`, asking for the TSA's certificate in the token."""
    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce if nonce is not None else secrets.randbits(63),
        "cert_req": True,
    }).dump()


async def request_timestamp(url: str, digest: bytes, *, timeout_s: float = 10.0) -> bytes:
    """Ask the TSA at `url` for a token over `digest`; the token (DER ContentInfo), or ProofError why not."""
    nonce = secrets.randbits(63)
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.post(url, content=timestamp_request(digest, nonce),
                                       headers={"Content-Type": "application/timestamp-query"})
    except httpx.HTTPError as exc:
        raise ProofError(f"time-stamping authority {url} did not answer: {exc}") from exc
    if answer.status_code != 200:
        raise ProofError(f"time-stamping authority {url} answered HTTP {answer.status_code}")
    try:
        response = tsp.TimeStampResp.load(answer.content)
        status = response["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise ProofError(f"time-stamping authority {url} refused: {status} {response['status']['status_string'].native}")
        token = response["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        if info["nonce"].native != nonce:
            raise ProofError(f"time-stamping authority {url} answered another request (nonce differs)")
        return token.dump()
    except (ValueError, KeyError, TypeError) as exc:
        raise ProofError(f"time-stamping authority {url} sent an unreadable answer: {exc}") from exc


def verify_timestamp(token: bytes, digest: bytes, trusted: list[x509.Certificate]) -> datetime:
    """The time the token vouches for `digest`, after checking it against the `trusted` certificates."""
    try:
        content = cms.ContentInfo.load(token)
        signed = content["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ProofError("the token does not hold a TSTInfo")
        tst_der = encap["content"].contents
        info = encap["content"].parsed
        imprint = info["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != digest:
            raise ProofError("the token's message imprint is not the checkpoint's digest")
        [signer] = signed["signer_infos"]
        cert = _signer_certificate(signed, signer)
        _check_signed_attributes(signer, tst_der)
        _check_signature(signer, cert)
        _check_issuer(cert, trusted)
        return info["gen_time"].native  # type: ignore[no-any-return]
    except ProofError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ProofError(f"the time-stamp token cannot be read: {exc}") from exc


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    for choice in signed["certificates"] or ():
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number" and (
                cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native):
            return x509.load_der_x509_certificate(cert.dump())
        if sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    raise ProofError("the token does not carry its signer's certificate")


def _check_signed_attributes(signer: cms.SignerInfo, tst_der: bytes) -> None:
    attrs = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
    if attrs.get("content_type") != "tst_info":
        raise ProofError("the token's signed attributes do not name a TSTInfo")
    algorithm = signer["digest_algorithm"]["algorithm"].native
    if algorithm not in _HASHES or attrs.get("message_digest") != hashlib.new(algorithm, tst_der).digest():
        raise ProofError("the token's signed digest does not match its TSTInfo")


def _check_signature(signer: cms.SignerInfo, cert: x509.Certificate) -> None:
    data = signer["signed_attrs"].untag().dump()  # signed as a SET OF, not as the [0] it is stored in
    signature = signer["signature"].native
    algorithm = _HASHES[signer["digest_algorithm"]["algorithm"].native]
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise ProofError(f"the token is signed with an unsupported key type {type(key).__name__}")
    except InvalidSignature as exc:
        raise ProofError("the token's signature does not verify with its certificate") from exc


def _check_issuer(cert: x509.Certificate, trusted: list[x509.Certificate]) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or ExtendedKeyUsageOID.TIME_STAMPING not in usage:
        raise ProofError("the token's certificate is not for time-stamping (extended key usage)")
    for anchor in trusted:
        if cert == anchor:
            return
        try:
            cert.verify_directly_issued_by(anchor)
            return
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise ProofError("the token's certificate is not issued by a trusted time-stamping authority")

