"""Low-level reading of elements: by local name (SDKs differ in order), with every problem noted.

Elements count as ours in the edXML namespace or in none (some systems drop it); an XMLDSig
element is seen as `ds:<name>`. Anything else is reported, never silently dropped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Container
from datetime import date, datetime
from typing import Literal

from lxml import etree

from ._fields import Kind, Table, format_value, names
from ._moments import read_moment
from ._report import Collector
from ._xml import DSIG_NS, NS

Need = Literal["", "soft", "hard"]
KnownOrgans = Container[str]
PLACEHOLDER_TIME = datetime(1970, 1, 1)  # stands in for an unreadable timestamp already reported

ORGAN_ID = re.compile(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}\Z")
DOCUMENT_ID = re.compile(r"[^,\s]+,\d{4}/\d{2}/\d{2},[^/,]+/[^,]+\Z")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# What systems write for "no value" in identifiers (Java's and .NET's null printed as text).
_NULLS = frozenset({"null", "nil", "none", "undefined"})
_NS_PREFIX = "{" + NS + "}"
_DSIG_PREFIX = "{" + DSIG_NS + "}"
_TRUE = {"1": True, "true": True, "0": False, "false": False}


def local(tag: str) -> str | None:
    """`Name` for our elements, `ds:Name` for XMLDSig ones, None for any other namespace."""
    if tag.startswith(_NS_PREFIX):
        return tag[len(_NS_PREFIX) :]
    if tag.startswith(_DSIG_PREFIX):
        return "ds:" + tag[len(_DSIG_PREFIX) :]
    return None if tag.startswith("{") else tag


def name_of(el: etree._Element) -> str:
    return etree.QName(el).localname


def element_bytes(el: etree._Element) -> bytes:
    """A standalone copy of `el` with only the namespace declarations it uses."""
    clone = copy.deepcopy(el)
    clone.tail = None
    etree.cleanup_namespaces(clone)
    return etree.tostring(clone, encoding="utf-8")


class Reader:
    """Turns elements into plain values, telling the collector about everything odd."""

    def __init__(self, collector: Collector, known_organs: KnownOrgans | None = None) -> None:
        self.c = collector
        self.known = known_organs

    def kids(self, el: etree._Element, known: frozenset[str]) -> dict[str, list[etree._Element]]:
        """Children of `el` grouped by local name; unknown ones are reported and left out."""
        out: dict[str, list[etree._Element]] = {}
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions
            key = local(tag)
            if key in known:
                out.setdefault(key, []).append(child)
            else:
                self.c.soft(child, f"unexpected element {tag.replace(_NS_PREFIX, '')} in {name_of(el)} ignored")
        return out

    def one(
        self, kids: dict[str, list[etree._Element]], name: str, parent: etree._Element, need: Need = ""
    ) -> etree._Element | None:
        """The single child called `name`; a missing one is an error if `need` says so."""
        found = kids.get(name)
        if not found:
            if need:
                (self.c.error if need == "hard" else self.c.soft)(parent, f"{name_of(parent)} has no {name}")
            return None
        if len(found) > 1:
            self.c.soft(found[1], f"{name} appears {len(found)} times in {name_of(parent)}; only the first is read")
        return found[0]

    def record(self, el: etree._Element, table: Table, extra: frozenset[str] = frozenset()) -> tuple[dict[str, object], dict[str, list[etree._Element]]]:
        """Read the leaf fields of `table` from `el`; also return its children for the caller's own parts."""
        kids = self.kids(el, names(table) | extra)
        values: dict[str, object] = {}
        for name, attr, kind in table:
            child = self.one(kids, name, el)
            if child is not None:
                value = self.value(child, kind)
                if value is not None:
                    values[attr] = value
        return values, kids

    def text(self, el: etree._Element | None) -> str:
        if el is None:
            return ""
        if len(el):
            self.c.soft(el, f"{name_of(el)} should hold text, not elements")
        return el.text or ""

    def value(self, el: etree._Element, kind: Kind) -> object:
        """Convert an element's text by `kind`; None when it is empty or unreadable (and reported)."""
        text = self.text(el)
        if kind == "text":
            return text
        if kind == "id":
            return self.identifier(el, text)
        if kind == "organ":
            return self.organ(el, self.identifier(el, text))
        text = text.strip()
        if not text:
            return None
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                self.c.soft(el, f"{name_of(el)} is not an integer: {text!r}")
                return None
        if kind in ("flag", "bool"):
            if text.lower() not in _TRUE:
                self.c.soft(el, f"{name_of(el)} is not 0/1 or true/false: {text!r}")
                return None
            return _TRUE[text.lower()]
        return self.moment(el, text, kind == "timestamp")

    def identifier(self, el: etree._Element, text: str) -> str:
        """An id as written, less surrounding whitespace."""
        value = text.strip()
        if value != text and value:
            self.c.soft(el, f"{name_of(el)} {text!r} has surrounding whitespace; read as {value!r}")
        return value

    def organ(self, el: etree._Element, value: str) -> str:
        """`null` (Java's and .NET's null printed) is no organ; a Decision 20/2020 organ id written in lower
        case is the same organ in upper case."""
        if value.lower() in _NULLS:
            self.c.soft(el, f"{name_of(el)} is {value!r}: read as no value")
            return ""
        upper = value.upper()
        if upper != value and ORGAN_ID.match(upper) and not self.known_organ(value):
            self.c.soft(el, f"{name_of(el)} {value!r} read as {upper!r} (organ ids are upper case)")
            return upper
        return value

    def moment(self, el: etree._Element, text: str, with_time: bool) -> date | datetime | None:
        """Dates are `yyyy/MM/dd`, timestamps add ` HH:mm:ss`; other forms (`_moments`) are soft."""
        shape = "yyyy/MM/dd HH:mm:ss" if with_time else "yyyy/MM/dd"
        try:
            value, how = read_moment(text, with_time=with_time)
        except ValueError:
            self.c.error(el, f"{name_of(el)} is not a {shape} value: {text!r}")
            return None
        if how is not None:
            self.c.soft(el, f"{name_of(el)} {text!r} read as {format_value('timestamp' if with_time else 'date', value)} ({how}), not in the {shape} form")
        return value

    def known_organ(self, value: str) -> bool:
        return self.known is not None and value in self.known

    def organ_id(self, el: etree._Element, value: str, what: str) -> None:
        """Organ ids follow Decision 20/2020 (`000.00.00.G22`); one the directory holds is valid in any form."""
        if not value:
            self.c.error(el, f"{what} has no OrganId")
        elif ORGAN_ID.match(value):
            return
        elif self.known_organ(value):
            self.c.warn(el, f"{what} OrganId {value!r} is not of the form 000.00.00.A00; the directory holds it")
        elif self.known is not None:
            self.c.soft(el, f"{what} OrganId {value!r} is not of the form 000.00.00.A00 and not in the directory")
        else:
            self.c.soft(el, f"{what} OrganId {value!r} is not of the form 000.00.00.A00")

    def document_id(self, el: etree._Element, value: str, what: str) -> None:
        """`OrganId,yyyy/MM/dd,Number/Notation`, or a UUID as shared SaaS systems write."""
        if not value:
            self.c.error(el, f"{what} has no DocumentId")
        elif not (DOCUMENT_ID.match(value) or UUID.match(value)):
            self.c.soft(el, f"{what} DocumentId {value!r} is not of the form OrganId,yyyy/MM/dd,Number/Notation "
                            "nor a UUID")

