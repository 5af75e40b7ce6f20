"""A client that behaves like the national exchange's Java SDK, for tests of the agent's SDK facade.

Written from the recorded facts of the SDK (see ../shared/vdxp-sdk-wire): one header map for the client
object's whole life (headers of earlier calls stay), a timestamp fixed at creation, HMAC-SHA256 over the
`sign-header` JSON keyed with the secret's UTF-8 bytes, and `sendEdoc` posting the raw file plus CRLF with
`hash-file` in the SDK's short hex form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

__all__ = ["SECRET", "SdkLikeClient", "sdk_hex", "sign"]

SECRET = "S3cretKeyForTesting"


def sdk_hex(data: bytes) -> str:
    """SHA-256 hex the way the SDK writes it: each byte without its leading zero."""
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


def sign(sign_header: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode("utf-8"), sign_header.encode("utf-8"), hashlib.sha256).hexdigest()


class SdkLikeClient:
    """Makes calls as the national SDK does, including its accumulated headers and frozen timestamp."""

    def __init__(self, http: httpx.AsyncClient, system_id: str, secret: str = SECRET,
                 timestamp: str = "26112026T014339+0215") -> None:
        self.http = http
        self.secret = secret
        self.params: dict[str, str] = {"systemid": system_id}
        self.timestamp = timestamp

    async def call(self, path: str, params: dict[str, str] | None = None, *, method: str = "POST",
                   body: bytes = b"", content_type: str = "application/json",
                   tamper: dict[str, str] | None = None) -> httpx.Response:
        """One call; `tamper` overrides header values after signing (an attacker's edit)."""
        self.params.update(params or {})
        self.params["timestamp"] = self.timestamp
        self.params["Content-Type"] = content_type
        sign_header = json.dumps({f"XroadVnpt-{k}": v for k, v in self.params.items()},
                                 separators=(",", ":"), ensure_ascii=False)
        headers = {f"XroadVnpt-{k}": v for k, v in self.params.items()}
        headers.update({
            "Content-Type": content_type,
            "XroadVnpt-sign-header-key": ";".join(self.params),
            "XroadVnpt-sign-header": sign_header,
            "XroadVnpt-hash-header": sign(sign_header, self.secret),
            "XroadVnpt-version": "3.0.201608",
            "User-Agent": "JAVASDKAgent/1.0.0 XRoad/VPCP",
        })
        headers.update(tamper or {})
        encoded = [(k.encode(), v.encode("utf-8")) for k, v in headers.items()]
        return await self.http.request(method, path, headers=encoded, content=body)

    async def send_edoc(self, file: bytes, *, messagetype: str = "edoc", from_: str | None = None,
                        to: str | None = None) -> httpx.Response:
        params = {"servicetype": "eDoc", "messagetype": messagetype, "hash-file": sdk_hex(file)}
        if from_ is not None:
            params["from"] = from_
        if to is not None:
            params["to"] = to
        return await self.call("/sendEdoc", params, body=file + b"\r\n", content_type="application/octet-stream")

    async def received_list(self, messagetype: str = "edoc") -> list[dict[str, Any]]:
        answer = (await self.call("/getReceivedEdocList", {"servicetype": "eDoc", "messagetype": messagetype})).json()
        assert answer["status"] == "OK", answer
        return answer["data"]

    async def get_edoc(self, doc_id: str, file_path: str = "xml") -> bytes:
        answer = (await self.call("/getEdoc", {"docId": doc_id, "filePath": file_path}, body=b"{}")).json()
        assert answer["status"] == "OK", answer
        return base64.b64decode(answer["data"])

    async def update_status(self, doc_id: str, status: str) -> dict[str, Any]:
        return (await self.call("/updateStatus", {"docId": doc_id, "status": status}, body=b"{}")).json()

    async def receive_loop(self, folder: Path, messagetype: str = "edoc") -> list[Path]:
        """The SDK's receive loop: list, get, store as `<folder>/<yyyy>/<MM>/<docId>.edxml`, updateStatus done."""
        stored = []
        for row in await self.received_list(messagetype):
            data = await self.get_edoc(row["docId"], str(folder))
            now = datetime.now()
            path = folder / f"{now:%Y}" / f"{now:%m}" / f"{row['docId']}.edxml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            answer = await self.update_status(row["docId"], "done")
            assert answer["status"] == "OK", answer
            stored.append(path)
        return stored
