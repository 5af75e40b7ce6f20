"""Hardened XML loading shared by every reader of packages (parser, validator, signing).

Packages come from other agencies and from the network: no DTDs, no entity expansion,
no network access, and a size cap, whatever the caller forgets to ask for.
"""

from __future__ import annotations

from lxml import etree

from .errors import PackageTooLarge, XmlSyntaxError

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,  # large base64 attachments are legitimate; size is capped by max_bytes instead
        remove_blank_text=False,
        collect_ids=False,
    )


def strip_leading_junk(data: bytes) -> tuple[bytes, int]:
    """Drop bytes before the XML declaration or first tag; return the rest and how many were dropped.

    Real SDK output sometimes starts with stray bytes (`1212<?xml ...`); the lenient profile
    accepts such files, the strict one reports them.
    """
    start = data.find(b"<")
    if start <= 0:
        return data, 0
    return data[start:], start


def load_tree(data: bytes, *, source: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse package bytes into an lxml root element, refusing DTDs, entities and oversized input."""
    if len(data) > max_bytes:
        raise PackageTooLarge(f"{source}: package is {len(data)} bytes, over the limit of {max_bytes}", source=source)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise XmlSyntaxError(f"{source}:{line or '?'}: {exc.msg}", source=source, line=line) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internal_DTD or docinfo.system_url or docinfo.public_id:
        raise XmlSyntaxError(f"{source}:1: a DOCTYPE is not allowed in a package", source=source, line=1)
    return root
