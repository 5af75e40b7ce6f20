"""Hardened XML loading shared by every reader of packages (parser, validator, signing).

Packages come from other agencies and from the network: no DTDs, no entity expansion,
no network access, and a size cap, whatever the caller forgets to ask for.
"""

from __future__ import annotations

import re

from lxml import etree

from .errors import PackageTooLarge, XmlSyntaxError

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XLINK_NS = "http://www.w3.org/1999/xlink"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

# Prefixes real SDK output uses without declaring them, and what they can only mean.
REPAIRABLE_PREFIXES = {"edXML": NS, "xlink": XLINK_NS, "ds": DSIG_NS}
_UNDECLARED = re.compile(r"Namespace prefix (\S+) (?:for \S+ )?on \S+ is not defined")
_ROOT_TAG = re.compile(rb"<(?![?!])[^\s/>]+")
_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16: the parser reads these itself; nothing to skip
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?edXML\s*>")
_EXTRA_CONTENT = "Extra content at the end of the document"


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
    if start <= 0 or data.startswith(_WIDE_BOMS):
        return data, 0
    return data[start:], start


def leading_junk(data: bytes) -> bytes:
    """The bytes before the first `<`, other than a byte order mark."""
    if data.startswith(_WIDE_BOMS):
        return b""
    start = data.find(b"<")
    junk = data[:start] if start > 0 else b""
    return b"" if junk == _BOM else junk


def load_tree(data: bytes, *, source: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse package bytes into an lxml root element, refusing DTDs, entities and oversized input."""
    if len(data) > max_bytes:
        raise PackageTooLarge(f"package is {len(data)} bytes, over the limit of {max_bytes}", source=source)
    parser = _parser()
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise XmlSyntaxError(exc.msg, source=source, line=exc.lineno or None, log=parser.error_log) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        raise XmlSyntaxError("a DOCTYPE is not allowed in a package", source=source, line=1)
    return root


def load_repairing(data: bytes, *, source: str, max_bytes: int) -> tuple[etree._Element, list[tuple[int | None, str]]]:
    """Load as real systems send: skip junk before `<?xml` and after the package, declare well-known
    prefixes left undeclared.

    Returns the root and what was repaired (line, description); anything else still raises.
    """
    repairs: list[tuple[int | None, str]] = []
    junk = leading_junk(data)
    data, _ = strip_leading_junk(data)
    if junk:
        repairs.append((1, f"skipped {len(junk)} bytes before the XML declaration: {junk[:16]!r}"))
    limit = max_bytes
    while True:
        try:
            return load_tree(data, source=source, max_bytes=limit), repairs
        except XmlSyntaxError as exc:
            repaired = _trailing_junk(data, exc) or _undeclared(data, exc)
            if repaired is None or len(repairs) > 8:
                raise
            limit += max(0, len(repaired[0]) - len(data))
            data = repaired[0]
            repairs.extend(repaired[1])


Repair = tuple[bytes, list[tuple[int | None, str]]]


def _trailing_junk(data: bytes, exc: XmlSyntaxError) -> Repair | None:
    """Bytes after the root element's end tag (padding, a second CRLF, a stray log line) are cut off."""
    ends = list(_ROOT_END.finditer(data)) if exc.problem.startswith(_EXTRA_CONTENT) else []
    if not ends:
        return None
    end = ends[-1].end()
    return data[:end], [(exc.line, f"skipped {len(data) - end} bytes after the end of the package: "
                                   f"{data[end:end + 16]!r}")]


def _undeclared(data: bytes, exc: XmlSyntaxError) -> Repair | None:
    missing = _undeclared_prefixes(exc)
    match = _ROOT_TAG.search(data)
    if not missing or any(prefix not in REPAIRABLE_PREFIXES for prefix in missing) or match is None:
        return None
    declarations = b"".join(f' xmlns:{p}="{REPAIRABLE_PREFIXES[p]}"'.encode() for p in missing)
    return data[: match.end()] + declarations + data[match.end() :], [
        (line, f"declared the undeclared namespace prefix {prefix!r} as {REPAIRABLE_PREFIXES[prefix]}")
        for prefix, line in missing.items()
    ]


def _undeclared_prefixes(exc: XmlSyntaxError) -> dict[str, int]:
    """Prefix -> first line where it is used undeclared, if that is all that is wrong."""
    found: dict[str, int] = {}
    for entry in exc.log or ():
        if entry.level < etree.ErrorLevels.ERROR:
            continue
        match = _UNDECLARED.search(entry.message)
        if match is None:
            return {}
        found.setdefault(match.group(1), entry.line)
    return found
