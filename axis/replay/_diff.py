"""What differs between two outcomes, as lines a person reads: one line per document, recipient or refusal
that is missing on one side or decided differently. An empty list means the two routers agreed."""

from __future__ import annotations

from typing import Any

from ._outcome import Outcome

_DOCUMENT_FIELDS = ("business_type", "concerns", "refusals")
_RECIPIENT_FIELDS = ("state", "status_codes", "changes", "refusals")


def _show(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value) or "(none)"
    return repr(value)


def diff_outcomes(a: Outcome, b: Outcome, *, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """Every difference between `a` and `b`, documents first (by sender, DocumentId), then refusals."""
    left, right = names
    lines: list[str] = []
    docs_a = {(d["sender"], d["document_id"]): d for d in a.documents}
    docs_b = {(d["sender"], d["document_id"]): d for d in b.documents}
    for key in sorted(docs_a.keys() | docs_b.keys()):
        label = f"{key[1]} (from {key[0]})"
        da, db = docs_a.get(key), docs_b.get(key)
        if da is None or db is None:
            lines.append(f"{label}: only in {left if db is None else right}")
            continue
        lines += [
            f"{label}: {f} {_show(da[f])} in {left}, {_show(db[f])} in {right}"
            for f in _DOCUMENT_FIELDS
            if da.get(f) != db.get(f)
        ]
        ra, rb = da["recipients"], db["recipients"]
        for organ in sorted(ra.keys() | rb.keys()):
            if organ not in ra or organ not in rb:
                lines.append(f"{label} -> {organ}: recipient only in {left if organ in ra else right}")
                continue
            lines += [
                f"{label} -> {organ}: {f} {_show(ra[organ][f])} in {left}, {_show(rb[organ][f])} in {right}"
                for f in _RECIPIENT_FIELDS
                if ra[organ].get(f) != rb[organ].get(f)
            ]
    refused_a = {r["message_id"]: r for r in a.refused}
    refused_b = {r["message_id"]: r for r in b.refused}
    for message_id in sorted(refused_a.keys() | refused_b.keys()):
        ra_, rb_ = refused_a.get(message_id), refused_b.get(message_id)
        if ra_ is None or rb_ is None:
            r = ra_ or rb_
            assert r is not None
            lines.append(
                f"refused {r['kind']} {message_id} from {r['sender']} only in {left if ra_ else right}: {r['reason']}"
            )
        elif ra_ != rb_:
            lines.append(f"refused {message_id}: {ra_['reason']!r} in {left}, {rb_['reason']!r} in {right}")
    return lines
