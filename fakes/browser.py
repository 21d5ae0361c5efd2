"""A member's web browser for tests and the demo: one cookie jar, one step at a time.

Nothing is followed by itself, so a test sees every page and redirect the member would:
`open` a URL, `follow` a redirect, `submit` the one form of a page (sending the `Origin`
header a browser sends with a form post).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from types import TracebackType

import aiohttp
from yarl import URL


@dataclass(frozen=True)
class Page:
    """One answer: status, where it came from, its text and headers."""

    status: int
    url: str
    text: str
    headers: dict[str, str]

    @property
    def location(self) -> str:
        """Where a redirect points, made absolute."""
        return str(URL(self.url).join(URL(self.headers["Location"])))


class _Form(HTMLParser):
    """The first form of a page: its method, action and named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.method: str | None = None
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.method is None:
            self.method = values.get("method", "get").lower()
            self.action = values.get("action", "")
        elif tag in ("input", "button") and self.method is not None and "name" in values:
            self.fields.setdefault(values["name"], values.get("value", ""))


class Browser:
    """A cookie jar that keeps cookies for IP hosts too (the servers here are on 127.0.0.1)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Browser:
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=self._timeout
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with Browser() as browser`"
        return self._session

    def cookies(self, url: str) -> dict[str, str]:
        """The cookies this browser would send to `url`."""
        jar = self.session.cookie_jar.filter_cookies(URL(url))
        return {name: morsel.value for name, morsel in jar.items()}

    async def open(self, url: str) -> Page:
        """GET `url` as a typed address or a clicked link."""
        async with self.session.get(url, allow_redirects=False) as response:
            return Page(response.status, url, await response.text(), dict(response.headers))

    async def follow(self, page: Page) -> Page:
        """Go where a redirect points."""
        assert 300 <= page.status < 400, f"not a redirect: {page.status} {page.text[:200]}"
        return await self.open(page.location)

    async def submit(self, page: Page) -> Page:
        """Press the button of the page's form (a POST carries the page's origin)."""
        form = _Form()
        form.feed(page.text)
        assert form.method is not None, f"no form on {page.url}: {page.text[:300]}"
        target = URL(page.url).join(URL(form.action or page.url))
        if form.method != "post":
            return await self.open(str(target.update_query(form.fields)))
        origin = str(URL(page.url).origin())
        async with self.session.post(
            target, data=form.fields, headers={"Origin": origin}, allow_redirects=False
        ) as response:
            return Page(response.status, str(target), await response.text(), dict(response.headers))
