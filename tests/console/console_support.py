"""A console client for tests, as a browser uses the console: a cookie jar, the CSRF token read from each
page's forms, forms posted and redirects not followed (so each test sees the 303 and where it points)."""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any, Self

import httpx

OPERATOR = "olga"
VIEWER = "victor"
PASSWORD = "mật khẩu đủ dài"  # Vietnamese, to show passwords are UTF-8 end to end

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ConsoleClient:
    """httpx over the app in process; `post_form` fills in the CSRF token of the last page read."""

    def __init__(self, app: Any) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")
        self.csrf = ""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.http.aclose()

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        response = await self.http.get(url, **kw)
        if found := _CSRF.search(response.text):
            self.csrf = found.group(1)
        return response

    async def json(self, url: str, **params: str) -> Any:
        """The page as JSON (`?format=json` added to its query and `params`)."""
        response = await self.http.get(httpx.URL(url).copy_merge_params({**params, "format": "json"}))
        assert response.status_code == 200, (url, response.status_code, response.text[:500])
        return response.json()

    async def post_form(self, url: str, data: dict[str, str], *, csrf: str | None = None) -> httpx.Response:
        return await self.http.post(url, data={**data, "csrf_token": self.csrf if csrf is None else csrf})

    async def sign_in(self, name: str, password: str) -> httpx.Response:
        await self.get("/login")
        response = await self.post_form("/login", {"username": name, "password": password, "next": "/"})
        assert response.status_code == 303, response.text[:500]
        await self.get("/")  # the new session's token
        return response
