"""The JSON answers the national SDK client reads, and the one exception every handler raises to fail.

Every answer, success or failure, is `{"status": "OK"|"FAIL", "ErrorCode", "ErrorDesc", ...}`: the client
shows `ErrorDesc` to the clerk when `status` is not `OK`, so a failure must say in words what is wrong.
`ErrorCode` is a stable machine-readable name of the failure ("0" on success).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["VdxpFailure", "fail", "ok"]


class VdxpFailure(Exception):
    """A request the facade refuses; turned into a FAIL answer with `http_status` at the edge."""

    def __init__(self, http_status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.code = code
        self.description = description


class _Utf8JSONResponse(JSONResponse):
    """Vietnamese names stay readable in the answer (no \\u escapes); the client decodes UTF-8."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def ok(**fields: Any) -> JSONResponse:
    """A successful answer with the call's own keys (`DocId`, `data`, `count`, ...)."""
    return _Utf8JSONResponse({"status": "OK", "ErrorCode": "0", "ErrorDesc": "", **fields})


def fail(failure: VdxpFailure) -> JSONResponse:
    """The FAIL answer for a refused request."""
    body = {"status": "FAIL", "ErrorCode": failure.code, "ErrorDesc": failure.description}
    return _Utf8JSONResponse(body, status_code=failure.http_status)
