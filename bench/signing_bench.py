"""Signing benchmark: signs/s and verifies/s of `signing` (python-xmlsec) beside `signxml`, one core.

Packages of about 10 KB and 1 MB are built here with lxml (the samples' skeleton, a padded
attachment). Verification is also compared with the floor any verifier pays: lxml parse +
exclusive c14n + SHA-256 of the same bytes (target: verify costs at most twice that).

    .venv/bin/python bench/signing_bench.py [--seconds 1.0] [--json]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable

from lxml import etree

from edxml import NS, load_tree
from signing import DevPki, Signer, SigningIdentity, TrustStore, Verifier

SIZES = {"10KB": 10 * 1024, "1MB": 1024 * 1024}
SENDER = "000.00.00.G22"


def build_package(size: int) -> bytes:
    """An EDXML document package of about `size` bytes (the attachment takes up the slack)."""
    e = f"{{{NS}}}"
    root = etree.Element(e + "edXML", nsmap={None: NS})
    envelope = etree.SubElement(root, e + "edXMLEnvelope", nsmap={"edXML": NS})
    header = etree.SubElement(envelope, e + "edXMLHeader")
    message = etree.SubElement(header, e + "MessageHeader")
    for tag, organ in (("From", SENDER), ("To", "000.00.00.H41")):
        org = etree.SubElement(message, e + tag)
        etree.SubElement(org, e + "OrganId").text = organ
        etree.SubElement(org, e + "OrganName").text = "Văn phòng Chính phủ" if tag == "From" else "UBND Tỉnh Nghệ An"
    etree.SubElement(message, e + "DocumentId").text = f"{SENDER},2024/05/06,12/VPCP-TTĐT"
    etree.SubElement(message, e + "Subject").text = "Về việc triển khai trục liên thông văn bản quốc gia"
    trace = etree.SubElement(header, e + "TraceHeaderList")
    hop = etree.SubElement(trace, e + "TraceHeader")
    etree.SubElement(hop, e + "OrganId").text = SENDER
    etree.SubElement(hop, e + "Timestamp").text = "2024/05/06 09:00:00"
    manifest = etree.SubElement(etree.SubElement(envelope, e + "edXMLBody"), e + "edXMLManifest", version="1.0")
    etree.SubElement(etree.SubElement(manifest, e + "Reference"), e + "ContentId").text = "cid:1"
    attachment = etree.SubElement(etree.SubElement(root, e + "AttachmentEncoded", nsmap={"edXML": NS}), e + "Attachment")
    etree.SubElement(attachment, e + "ContentId").text = "cid:1"
    content = etree.SubElement(attachment, e + "ContentTransferEncoded")
    etree.indent(root)
    skeleton = len(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    raw = os.urandom(max(0, (size - skeleton - 2000) * 3 // 4))  # 2000: room for the signature
    content.text = base64.encodebytes(raw).decode()  # 76-column lines, as MIME tools write them
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def rate(fn: Callable[[], object], seconds: float, rounds: int = 5) -> float:
    """Operations per second of `fn`: the best of `rounds` runs sharing about `seconds`, after a warm-up.

    The best round, as `timeit` advises: on a busy machine the slow rounds measure the neighbours.
    """
    fn()
    best = 0.0
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / rounds:
                break
        best = max(best, n / elapsed)
    return best


def baseline(data: bytes) -> None:
    """What any verifier must do: parse, exclusive c14n, SHA-256."""
    root = load_tree(data)
    hashlib.sha256(etree.tostring(root, method="c14n", exclusive=True)).digest()


def signxml_pair(key_pem: bytes, cert_pem: bytes, method: str) -> tuple[Callable[[bytes], bytes], Callable[[bytes], object]]:
    import signxml
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, password=None)  # loaded once, as our Signer does
    signer = signxml.XMLSigner(
        method=signxml.methods.enveloped,
        signature_algorithm=method,
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    verifier = signxml.XMLVerifier()

    def sign(data: bytes) -> bytes:
        return etree.tostring(signer.sign(load_tree(data), key=key, cert=cert_pem.decode()))

    def verify(data: bytes) -> object:
        return verifier.verify(data, x509_cert=cert_pem.decode(), expect_config=signxml.SignatureConfiguration(
            signature_methods=[signxml.SignatureMethod(f"http://www.w3.org/2001/04/xmldsig-more#{method}")],
            digest_algorithms=[signxml.DigestAlgorithm.SHA256],
        ))

    return sign, verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pki = DevPki(tmp)
        pki.init(algorithm="ec")
        verifier = Verifier(TrustStore.from_files([pki.ca_path], [pki.crl_path]))
        for algorithm, method in (("rsa", "rsa-sha256"), ("ec", "ecdsa-sha256")):
            key_path, cert_path = pki.issue(SENDER, "Văn phòng Chính phủ", algorithm)
            ours = Signer(SigningIdentity.from_files(key_path, cert_path))
            sx_sign, sx_verify = signxml_pair(key_path.read_bytes(), cert_path.read_bytes(), method)
            for label, size in SIZES.items():
                package = build_package(size)
                signed = ours.sign(package)
                verifier.verify(signed)
                sx_signed = sx_sign(package)
                root = load_tree(signed)
                row = {
                    "algorithm": method, "size": label, "bytes": len(signed),
                    "sign_per_s": rate(lambda: ours.sign(package), args.seconds),
                    "verify_per_s": rate(lambda: verifier.verify(signed), args.seconds),
                    "verify_parsed_per_s": rate(lambda: verifier.verify(root), args.seconds),
                    "signxml_sign_per_s": rate(lambda: sx_sign(package), args.seconds),
                    "signxml_verify_per_s": rate(lambda: sx_verify(sx_signed), args.seconds),
                    "baseline_per_s": rate(lambda: baseline(signed), args.seconds),
                }
                row["verify_cost_ratio"] = row["baseline_per_s"] / row["verify_per_s"]  # type: ignore[operator]
                results.append(row)

    print(f"signing benchmark, one core, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'algorithm':<13}{'size':>5}{'sign/s':>9}{'verify/s':>10}{'(parsed)':>10}"
          f"{'signxml sign/s':>16}{'signxml verify/s':>18}{'parse+c14n+sha/s':>18}{'ratio':>7}")
    for r in results:
        print(f"{r['algorithm']:<13}{r['size']:>5}{r['sign_per_s']:>9.0f}{r['verify_per_s']:>10.0f}"
              f"{r['verify_parsed_per_s']:>10.0f}{r['signxml_sign_per_s']:>16.0f}{r['signxml_verify_per_s']:>18.0f}"
              f"{r['baseline_per_s']:>18.0f}{r['verify_cost_ratio']:>7.2f}")
    print("ratio = cost of verify(bytes) / cost of lxml parse + exclusive c14n + SHA-256 (target <= 2)")
    if args.json:
        print(json.dumps({"benchmark": "signing", "results": results}))


if __name__ == "__main__":
    main()
