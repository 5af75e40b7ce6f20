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
_FROM_ORGAN = etree.XPath(  # one compiled XPath call: cheaper than walking the five levels from Python
    "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:From/e:OrganId", namespaces={"e": NS}
)


def header_of(root: etree._Element) -> etree._Element | None:
    """`edXML/edXMLEnvelope/edXMLHeader`, or None when the root is not an EDXML package."""
    if root.tag != ROOT:
        return None
    envelope = child(root, ENVELOPE)
    return None if envelope is None else child(envelope, HEADER)


def anchor_of(header: etree._Element) -> etree._Element | None:
    """The element the signature follows: TraceHeaderList, or MessageHeader in a status package."""
    trace = child(header, TRACE_LIST)
    return trace if trace is not None else child(header, MESSAGE_HEADER)


def child(parent: etree._Element, tag: str) -> etree._Element | None:
    """The first child named `tag`: a plain loop, cheaper on the hot path than `find()` (ElementPath)
    or `iterchildren(tag)` (a tag matcher built per call), since package elements have few children."""
    for node in parent:
        if node.tag == tag:
            return node
    return None


def from_organ_ids(root: etree._Element) -> list[str]:
    """Every `From/OrganId` text in the header (a valid package has exactly one)."""
    found = _FROM_ORGAN(root)
    return [(el.text or "").strip() for el in found if isinstance(el, etree._Element)] if isinstance(found, list) else []
