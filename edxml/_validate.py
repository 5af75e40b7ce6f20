"""`validate` and `parse_package`: load (hardened), check the schema (strict), read and apply the rules.

Strict is what this exchange sends: well-formed from the first byte, the shipped XSD in canonical
order, standard organ ids and DocumentIds, an XMLDSig signature if any. Lenient is what real
systems send: junk before `<?xml`, well-known prefixes left undeclared, any order, unknown
elements, test organ ids and a legacy signature are warnings; what cannot be read stays an error.
"""

from __future__ import annotations

import threading
from importlib.resources import files

from lxml import etree

from ._model import Package, Profile
from ._parse import read_package
from ._reader import KnownOrgans, Reader
from ._report import Collector, ValidationReport
from ._xml import DEFAULT_MAX_BYTES, DSIG_NS, NS, leading_junk, load_repairing, load_tree
from .errors import EdxmlError, PackageInvalid, XmlSyntaxError

Input = bytes | etree._Element


# The strict schema, one compiled copy per thread. Two faults of the native library make this necessary
# (bench/native_stress.py reproduces both):
# - libxml2 before 2.15 (lxml 6.1 bundles 2.14.6) fills its table of XML Schema built-in types lazily and
#   without a lock on the first schema parse, which lxml runs without the GIL: two threads building at once
#   could free that table under each other and leave every later build failing ("the given type is not a
#   built-in type") for the life of the process. The first build happens here, at import, before any worker
#   thread exists, and builds are serialised.
# - an `XMLSchema` object keeps one error log that each validation clears and fills, so two threads
#   validating with one object read each other's errors (an invalid package could read as valid).
_XSD = files("edxml").joinpath("edxml.xsd").read_bytes()
_BUILDING = threading.Lock()
_PER_THREAD = threading.local()


def _build_schema() -> etree.XMLSchema:
    with _BUILDING:
        return etree.XMLSchema(load_tree(_XSD, source="edxml.xsd"))


def _schema() -> etree.XMLSchema:
    """This thread's compiled strict schema."""
    schema: etree.XMLSchema | None = getattr(_PER_THREAD, "schema", None)
    if schema is None:
        schema = _PER_THREAD.schema = _build_schema()
    return schema


_schema()  # at import: libxml2's built-in types exist before any thread validates


def validate(
    data: Input, *, profile: Profile = "strict", source: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES,
    known_organs: KnownOrgans | None = None,
) -> ValidationReport:
    """Check a package and report every problem found with its line; never raises for bad input.

    `known_organs` is the directory (anything that answers `organ_id in known_organs`): an organ id it
    holds is valid whatever its form. Without it, organ ids must have the Decision 20/2020 form.
    """
    report = ValidationReport(source)
    collector = Collector(report, profile)
    try:
        root = _load(data, profile, source, max_bytes, collector)
    except EdxmlError as exc:
        collector.error(exc.line, exc.problem)
        return report
    _check(root, collector, known_organs)
    return report


def parse_package(
    data: Input, *, profile: Profile = "lenient", source: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES,
    known_organs: KnownOrgans | None = None,
) -> Package:
    """Read a package (bytes, or a root already loaded with `load_tree`) into the model.

    Raises `XmlSyntaxError`/`PackageTooLarge` for unreadable input and `PackageInvalid` naming the
    first problem otherwise. `known_organs` as for `validate`.
    """
    report = ValidationReport(source)
    collector = Collector(report, profile)
    _check(_load(data, profile, source, max_bytes, collector), collector, known_organs)
    report.raise_for_errors()
    if report.package is None:  # the reader reports whenever it gives up; this is a safety net
        raise PackageInvalid("not an EDXML package", source=source)
    return report.package


def _load(data: Input, profile: Profile, source: str, max_bytes: int, c: Collector) -> etree._Element:
    if isinstance(data, etree._Element):
        return data
    if profile == "lenient":
        root, repairs = load_repairing(data, source=source, max_bytes=max_bytes)
        for line, what in repairs:
            c.warn(line, f"repaired: {what}")
        return root
    junk = leading_junk(data[:4096])
    if junk:
        raise XmlSyntaxError(f"{len(junk)} bytes before the XML declaration: {junk[:16]!r}", source=source, line=1)
    return load_tree(data, source=source, max_bytes=max_bytes)


def _check(root: etree._Element, c: Collector, known_organs: KnownOrgans | None) -> None:
    if c.profile == "strict":
        schema = _schema()
        if not schema.validate(root.getroottree()):
            for entry in schema.error_log:
                c.error(entry.line, _readable(entry.message))
            return
    package = read_package(root, Reader(c, known_organs))
    c.report.package = package if c.report.ok else None


def _readable(message: str) -> str:
    return message.replace("{" + NS + "}", "").replace("{" + DSIG_NS + "}", "ds:")
