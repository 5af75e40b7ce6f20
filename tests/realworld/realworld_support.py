"""The real-traffic corpus (`packages/`): what each file is, who sends it, and what the agent must say of it.

The files reproduce the classes of packages seen in production traffic that the national SDK's samples do
not show (issue 15): `dd/MM/yyyy` dates, SaaS TraceHeaders without an organ, no TraceHeaderList, organ ids of
other shapes, a status whose ResponseFor names no organ; and the variants such systems plausibly write: a
BOM with CRLF, UTF-16, surrounding whitespace, lower-case organ ids, ISO 8601 times with offsets, .NET's
Vietnamese `CH`, empty elements, bytes after the package, epoch milliseconds. One file is truly not
well-formed. Every organ the files name is in the directory, as in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PACKAGES = Path(__file__).parent / "packages"

H41 = "000.00.00.H41"
G22 = "000.00.00.G22"
SAAS = "vxp.saas.03"
HOA_SON = "28.22.H17"
DIRECTORY = {
    H41: "UBND Tỉnh Nghệ An",
    G22: "Văn phòng Chính phủ",
    SAAS: "Hệ thống QLVB dùng chung (SaaS 03)",
    HOA_SON: "UBND xã Hòa Sơn",
}
# The document the two status files answer (sent by H41 in 01-promulgation-ddmmyyyy.edxml).
ANSWERED = "000.00.00.H41,2020/10/30,1234/UBND-VX"


@dataclass(frozen=True)
class Case:
    """One file: its sender and recipients, and what the agent's answer must mention."""

    name: str
    sender: str
    recipients: tuple[str, ...]
    says: tuple[str, ...]  # substrings of the agent's warnings (accepted) or of its error (refused)
    accepted: bool = True

    @property
    def data(self) -> bytes:
        return (PACKAGES / self.name).read_bytes()


CASES = [
    Case("01-promulgation-ddmmyyyy.edxml", H41, (G22,),
         ("PromulgationDate '30/10/2020' read as 2020/10/30 (dd/MM/yyyy)",)),
    Case("02-saas-trace-timestamp-only.edxml", SAAS, (G22,),
         ("TraceHeader has no OrganId", "From OrganId 'vxp.saas.03' is not of the form 000.00.00.A00; the directory holds it",
          "TraceHeader of the sender vxp.saas.03 added")),
    Case("03-saas-trace-organ-null.edxml", SAAS, (G22,), ("OrganId is 'null': read as no value",)),
    Case("04-no-tracelist.edxml", H41, (G22,),
         ("edXMLHeader has no TraceHeaderList", "Bussiness added", "TraceHeader of the sender 000.00.00.H41 added")),
    Case("05-odd-organ-ids.edxml", H41, (HOA_SON,),
         ("To OrganId '28.22.H17' is not of the form 000.00.00.A00; the directory holds it",)),
    Case("06-status-responsefor-no-organ.edxml", G22, (H41,),
         ("ResponseFor has no OrganId", "ResponseFor OrganId filled from the document answered: 000.00.00.H41")),
    Case("07-bom-crlf.edxml", H41, (G22,), ()),
    Case("08-utf16.edxml", H41, (G22,), ()),
    Case("09-whitespace.edxml", H41, (G22,),
         ("OrganId '  000.00.00.G22  ' has surrounding whitespace", "CodeNumber ' 1236 ' has surrounding whitespace")),
    Case("10-lowercase-organ.edxml", H41, (G22,), ("OrganId '000.00.00.h41' read as '000.00.00.H41'",)),
    Case("11-iso-dates.edxml", H41, (G22,),
         ("Timestamp '2020-10-30T02:15:00Z' read as 2020/10/30 09:15:00", "PromulgationDate '2020-10-30' read as 2020/10/30")),
    Case("12-status-dotnet-time-single-digit.edxml", G22, (H41,),
         ("StatusCode '4' read as '04'", "Timestamp '30/10/2020 2:15:00 CH' read as 2020/10/30 14:15:00")),
    Case("13-empty-elements.edxml", H41, (G22,),
         ("PromulgationDate filled from the DocumentId: 2020/10/30", "SteeringType filled as 0",
          "OrganName filled from the directory")),
    Case("14-trailing-junk.edxml", H41, (G22,), ("bytes after the end of the package",)),
    Case("15-no-code-epoch-trace.edxml", H41, (G22,),
         ("Code filled from the DocumentId: 1241/UBND-VX", "Unix epoch milliseconds")),
    Case("16-not-well-formed.edxml", H41, (G22,), (":37: Opening and ending tag mismatch: Subject line 29",),
         accepted=False),
]
SENDERS = sorted({c.sender for c in CASES})


def the_corpus_is_complete() -> None:
    """Every file in packages/ has a case (a new file without one would test nothing)."""
    files = sorted(p.name for p in PACKAGES.glob("*.edxml"))
    named = sorted(c.name for c in CASES)
    if files != named:
        raise AssertionError(f"packages/ and CASES differ: {sorted(set(files) ^ set(named))}")
