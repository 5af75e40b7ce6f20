"""Where things are in an EDXML package, for signing and verifying without the edxml model.

Signing must not depend on the full parser (the router verifies before it parses strictly), so
the few places we need are found here by name: the header, the signature slot, From/OrganId.
"""

from __future__ import annotations

from lxml import etree

from edxml import DSIG_NS, NS

ROOT = f"{{{NS}}}edXML"
ENVELOPE = f"{{{NS}}}edXMLEnvelope"
HEADER = f"{{{NS}}}edXMLHeader"
MESSAGE_HEADER = f"{{{NS}}}MessageHeader"
TRACE_LIST = f"{{{NS}}}TraceHeaderList"
LEGACY_SIGNATURE = f"{{{NS}}}Signature"
DSIG_SIGNATURE = f"{{{DSIG_NS}}}Signature"
_FROM_ORGAN = etree.XPath(
    "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:From/e:OrganId", namespaces={"e": NS}
)


def header_of(root: etree._Element) -> etree._Element | None:
    """`edXML/edXMLEnvelope/edXMLHeader`, or None when the root is not an EDXML package."""
    if root.tag != ROOT:
        return None
    envelope = root.find(ENVELOPE)
    return None if envelope is None else envelope.find(HEADER)


def anchor_of(header: etree._Element) -> etree._Element | None:
    """The element the signature follows: TraceHeaderList, or MessageHeader in a status package."""
    trace = header.find(TRACE_LIST)
    return trace if trace is not None else header.find(MESSAGE_HEADER)


def from_organ_ids(root: etree._Element) -> list[str]:
    """Every `From/OrganId` text in the header (a valid package has exactly one)."""
    found = _FROM_ORGAN(root)
    return [(el.text or "").strip() for el in found if isinstance(el, etree._Element)] if isinstance(found, list) else []
