"""EDXML (QCVN 102:2016/BTTTT) packages: model, build, parse, validate. No I/O beyond files given to it."""

from ._xml import DEFAULT_MAX_BYTES, DSIG_NS, NS, load_tree, strip_leading_junk
from .errors import EdxmlError, PackageInvalid, PackageTooLarge, XmlSyntaxError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DSIG_NS",
    "EdxmlError",
    "NS",
    "PackageInvalid",
    "PackageTooLarge",
    "XmlSyntaxError",
    "load_tree",
    "strip_leading_junk",
]
