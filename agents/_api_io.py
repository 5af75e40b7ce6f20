"""Request parsing and response shapes of the agent's HTTP API, apart from the routes themselves.

JSON field names mirror `DocumentFields`; unknown fields are refused rather than ignored, so a typo in a
document system's integration shows up on the first request (`fields.subjct: unknown field`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from datetime import date, datetime
from typing import Any

from .errors import InvalidInput
from .model import AttachmentInput, DocumentFields, OrganInput, ReceivedItem

_FIELD_NAMES = {f.name for f in dataclasses.fields(DocumentFields)}
_ORGAN_NAMES = {f.name for f in dataclasses.fields(OrganInput)}


def _date(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).replace("/", "-"))
    except ValueError:
        raise InvalidInput(f"{where}: expected a date YYYY-MM-DD, got {value!r}", code="invalid-fields") from None


def _organ(value: Any, where: str) -> OrganInput:
    if isinstance(value, str):
        return OrganInput(value)
    if not isinstance(value, dict) or "organ_id" not in value:
        raise InvalidInput(f"{where}: expected an organ id or an object with organ_id", code="invalid-fields")
    unknown = sorted(set(value) - _ORGAN_NAMES)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}: unknown field", code="invalid-fields")
    return OrganInput(**{k: str(v) for k, v in value.items()})


def fields_from_json(data: Any) -> DocumentFields:
    """`DocumentFields` from a decoded JSON object, with errors naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput("fields: expected a JSON object", code="invalid-fields")
    unknown = sorted(set(data) - _FIELD_NAMES - {"attachments"})
    if unknown:
        raise InvalidInput(f"fields.{unknown[0]}: unknown field", code="invalid-fields")
    values = {k: v for k, v in data.items() if k != "attachments"}
    to = values.get("to", [])
    if not isinstance(to, list):
        to = [to]
    values["to"] = tuple(_organ(o, f"fields.to[{i}]") for i, o in enumerate(to))
    for name in ("promulgation_date", "due_date"):
        values[name] = _date(values.get(name), f"fields.{name}")
    values["replaces"] = tuple(str(r) for r in values.get("replaces", ()) or ())
    for name in ("document_type", "steering_type", "priority", "doc_type"):
        if name in values:
            try:
                values[name] = int(values[name])
            except (TypeError, ValueError):
                raise InvalidInput(f"fields.{name}: expected an integer, got {values[name]!r}",
                                   code="invalid-fields") from None
    for name in ("subject", "code_number", "code_notation"):
        values.setdefault(name, "")
    return DocumentFields(**values)


def attachments_from_json(data: Any) -> list[AttachmentInput]:
    """Inline attachments of a JSON submission: `[{"name", "content_base64", "content_type"?, "description"?}]`."""
    items = data.get("attachments", []) if isinstance(data, dict) else []
    result = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or "name" not in item or "content_base64" not in item:
            raise InvalidInput(f"attachments[{i}]: expected name and content_base64", code="invalid-fields")
        try:
            content = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"attachments[{i}].content_base64: not valid base64", code="invalid-fields") from None
        result.append(AttachmentInput(str(item["name"]), content, str(item.get("content_type", "")),
                                      str(item.get("description", ""))))
    return result


def parse_fields_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"fields:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}", code="invalid-fields") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_json(value: Any) -> Any:
    """Dataclasses, datetimes and tuples as JSON values; bytes are left out (served by their own endpoints)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not isinstance(getattr(value, f.name), bytes)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def received_json(item: ReceivedItem) -> dict[str, Any]:
    data: dict[str, Any] = to_json(item)
    if item.sent_at is not None:
        data["latency_ms"] = int((item.received_at - item.sent_at).total_seconds() * 1000)
    return data
