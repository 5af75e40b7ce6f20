"""The rows of the list answers, with exactly the JSON keys the SDK client maps.

The Java client binds these objects to its own classes, so a row carries the listed keys and no others
(an unknown key can make a strict JSON binder fail). Identifiers: a package's `docId` is the agent's message
id, which the router keeps on delivery, so the sender's and the receiver's ids of one package are equal.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from agents.model import ReceivedItem, SentRecipient
from axis.wire import DirectoryEntry

__all__ = ["agency_row", "organ_level", "received_row", "sent_row", "sync_row", "vn_time"]

_VN_TIME = timezone(timedelta(hours=7))
SERVICE_TYPE = "eDoc"

_STATUS_MEANING = {
    "01": "đã đến", "02": "từ chối tiếp nhận", "03": "đã tiếp nhận", "04": "đã phân công",
    "05": "đang xử lý", "06": "hoàn thành", "13": "đề nghị lấy lại",
    "15": "đồng ý cập nhật/lấy lại", "16": "từ chối cập nhật/lấy lại",
}


def vn_time(at: datetime | None) -> str:
    """`yyyy-MM-dd HH:mm:ss` in Vietnam time, as the document systems display it; "" when unknown."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(_VN_TIME).strftime("%Y-%m-%d %H:%M:%S")


def _ms(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None


def received_row(item: ReceivedItem) -> dict[str, Any]:
    """One row of `getReceivedEdocList`: a received package and its transport status."""
    if item.kind == "status" and item.status_code:
        desc = f"{item.status_code}: {_STATUS_MEANING.get(item.status_code, '')}".rstrip(": ")
    else:
        desc = item.subject
    if item.transport_reason:
        desc = f"{desc} ({item.transport_reason})" if desc else item.transport_reason
    return {
        "docId": item.message_id,
        "serviceType": SERVICE_TYPE,
        "messageType": item.kind,
        "created_time": vn_time(item.received_at),
        "updated_time": vn_time(item.updated_at),
        "from": item.sender,
        "to": ",".join(item.recipients),
        "status": item.transport_status,
        "status_desc": desc,
    }


def sent_row(row: SentRecipient, *, sender: str) -> dict[str, Any]:
    """One row of `getSentEdocList`: one receiver of one sent package, as the ledger mirror knows it."""
    return {
        "senderDocId": row.message_id,
        "receiverDocId": row.message_id,
        "fromCode": sender,
        "toCode": row.recipient,
        "sendStatus": row.state,
        "sendStatusDesc": row.reason or "",
        "receiveStatus": row.last_status_code or "",
        "receiveStatusDesc": row.last_status_description or "",
        "sentTime": vn_time(row.sent_at),
        "receivedTime": vn_time(row.last_status_at),
        "title": row.subject,
        "notation": row.code_notation,
        "messageType": row.kind,
        "serviceType": SERVICE_TYPE,
    }


def _unit(entry: DirectoryEntry) -> dict[str, Any]:
    """The fields every directory answer shares; organ ids are already QĐ20 codes."""
    return {
        "id": entry.organ_id,
        "pid": entry.parent_id or "",
        "code": entry.organ_id,
        "name": entry.name,
        "mail": entry.email,
    }


def agency_row(entry: DirectoryEntry) -> dict[str, Any]:
    """One row of `getAgenciesList`/`getAgenciesListQD20`."""
    return {
        **_unit(entry),
        "oldCode": "",
        "code102": entry.organ_id,
    }


def sync_row(entry: DirectoryEntry) -> dict[str, Any]:
    """One row of `getSynchronizeUnit`: disabled agencies stay listed as deleted so clients drop them."""
    return {
        **_unit(entry),
        "centerCode": "",
        "version": entry.updated_at_ms,
        "deleted": not entry.active,
        "modifyDate": vn_time(_ms(entry.updated_at_ms)),
        "isAgency": True,
    }


def organ_level(organ_id: str) -> int | None:
    """The administrative level of a QĐ20 code `AAA.BB.CC.XNN`: lower levels fill the groups from the right.

    `000.00.00.G22` is level 1 (ministry, province), `000.00.12.H41` level 2, `000.05.12.H41` level 3,
    `003.05.12.H41` level 4. Codes of another shape (test systems such as `vxp.saas.03`) have no level.
    """
    parts = organ_id.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or len(parts[3]) != 3:
        return None
    a, b, c = (int(p) for p in parts[:3])
    if a:
        return 4
    if b:
        return 3
    if c:
        return 2
    return 1
