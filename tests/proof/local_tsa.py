"""A small RFC 3161 time-stamping authority for the tests (no public one can be reached from here).

It answers `application/timestamp-query` POSTs with a granted TimeStampResp: a CMS SignedData over a
TSTInfo (SHA-256 imprint echoed, nonce echoed, serial, genTime), signed with signed attributes
(content-type, message-digest, signing-certificate-v2) by an ECDSA key whose certificate carries the
critical extended key usage timeStamping and is issued by the tests' TSA root.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from axis.serving import AsgiServer


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class LocalTsa:
    """`async with LocalTsa() as tsa:` serves at `tsa.url`; `tsa.root` is the certificate to trust."""

    def __init__(self, port: int = 0) -> None:
        now = datetime.now(UTC)
        root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = (x509.CertificateBuilder().subject_name(_name("Test TSA Root")).issuer_name(_name("Test TSA Root"))
                     .public_key(root_key.public_key()).serial_number(1).not_valid_before(now - timedelta(days=1))
                     .not_valid_after(now + timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(root_key, hashes.SHA256()))
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (x509.CertificateBuilder().subject_name(_name("Test TSA")).issuer_name(self.root.subject)
                     .public_key(self._key.public_key()).serial_number(2).not_valid_before(now - timedelta(days=1))
                     .not_valid_after(now + timedelta(days=3650))
                     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                     .sign(root_key, hashes.SHA256()))
        self._serials = itertools.count(1)
        self.requests = 0
        self._server = AsgiServer(Starlette(routes=[Route("/", self._answer, methods=["POST"])]), port)

    @property
    def url(self) -> str:
        return self._server.url + "/"

    async def __aenter__(self) -> LocalTsa:
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop()

    async def _answer(self, request: Request) -> Response:
        self.requests += 1
        query = tsp.TimeStampReq.load(await request.body())
        token = self.token(query["message_imprint"]["hashed_message"].native, query["nonce"].native)
        response = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return Response(response.dump(), media_type="application/timestamp-reply")

    def token(self, digest: bytes, nonce: int | None) -> cms.ContentInfo:
        info = tsp.TSTInfo({
            "version": 1, "policy": "1.2.3.4.1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
            "serial_number": next(self._serials), "gen_time": datetime.now(UTC).replace(microsecond=0),
            "nonce": nonce,
        })
        encap = cms.EncapsulatedContentInfo({"content_type": "tst_info", "content": core.ParsableOctetString(info.dump())})
        cert = asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))
        signed_attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(info.dump()).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{"certs": [{
                "cert_hash": hashlib.sha256(cert.dump()).digest()}]}]}),
        ])
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": cert.issuer, "serial_number": cert.serial_number}}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        })
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": encap, "certificates": [cert], "signer_infos": [signer],
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": signed})
