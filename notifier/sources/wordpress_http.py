"""HTTP for the WordPress REST source: sign in, read answers up to a size cap, and
turn every failure into a SourceError that says what to fix (never the password)."""

from __future__ import annotations

from typing import Any

import httpx

from notifier.errors import SourceError
from notifier.masking import mask_text, mask_url


class ResponseTooLarge(SourceError):
    """The site's answer was larger than NOTIFIER_REST_MAX_RESPONSE_BYTES."""


class RestClient:
    """GETs under ``{site_url}/wp-json`` with an Application Password."""

    def __init__(
        self,
        site_url: str,
        *,
        username: str,
        app_password: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        max_bytes: int,
    ) -> None:
        self._shown = mask_url(site_url)
        self._username = username
        self._max_bytes = max_bytes
        # No redirects: following one to another host would drop or leak the
        # credentials, and an operator should set the final address anyway.
        self._client = httpx.AsyncClient(
            base_url=f"{site_url}/wp-json",
            auth=httpx.BasicAuth(username, app_password),
            timeout=timeout,
            follow_redirects=False,
            headers={"Accept": "application/json"},
            transport=transport,
        )

    async def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET a REST path, or raise a SourceError that says what to fix (never the password)."""
        where = f"{self._shown}/wp-json{path}"
        try:
            response = await self._capped_get(path, params)
        except httpx.HTTPError as exc:
            raise SourceError(
                f"cannot reach the WordPress REST API at {where}: {mask_text(str(exc))}"
            ) from exc
        code, wp_code = response.status_code, _wp_error_code(response)
        detail = f"HTTP {code}" + (f" {wp_code}" if wp_code else "")
        if code == 401:
            raise SourceError(
                f"WordPress at {self._shown} refused the application password of user "
                f"{self._username!r} ({detail}): check NOTIFIER_WP_USERNAME and "
                "NOTIFIER_WP_APP_PASSWORD"
            )
        if code == 403:
            raise SourceError(
                f"WordPress user {self._username!r} may not moderate comments at "
                f"{self._shown} ({detail}): it needs an Editor or Administrator role"
            )
        if code == 404 and wp_code == "rest_no_route" and path.startswith("/notifier/"):
            raise SourceError(
                f"{self._shown} does not run notifier's comment-meta plugin ({detail} for "
                f"{path}): copy scripts/notifier-wp-meta.php into wp-content/mu-plugins/"
            )
        if 300 <= code < 400:
            raise SourceError(
                f"{where} redirects ({detail}) to {response.headers.get('location', '?')}: "
                "set NOTIFIER_SOURCE_URL to the site's final address"
            )
        if code == 404 or not _is_json(response):
            raise SourceError(
                f"no WordPress REST API at {self._shown}/wp-json/ ({detail}, "
                f"{response.headers.get('content-type', 'no content type')}): is the URL right, "
                "and is the REST API enabled?"
            )
        if code >= 400:
            raise SourceError(f"WordPress REST API at {where} failed: {detail}")
        return response

    async def _capped_get(self, path: str, params: dict[str, Any] | None) -> httpx.Response:
        """The response, read as it streams in and abandoned past NOTIFIER_REST_MAX_RESPONSE_BYTES
        (a hostile or broken site must not make us hold gigabytes)."""
        async with self._client.stream("GET", path, params=params) as streamed:
            chunks, size = [], 0
            async for chunk in streamed.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise ResponseTooLarge(
                        f"WordPress REST API at {self._shown}/wp-json{path} sent more than "
                        f"{self._max_bytes} bytes (NOTIFIER_REST_MAX_RESPONSE_BYTES): "
                        "stopped reading"
                    )
                chunks.append(chunk)
        return httpx.Response(
            streamed.status_code,
            headers=streamed.headers,
            content=b"".join(chunks),
            request=streamed.request,
        )

    async def json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.get(path, params)
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(f"WordPress REST API at {path} sent invalid JSON") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "")


def _wp_error_code(response: httpx.Response) -> str:
    """WordPress's error code (``rest_forbidden``, …) if the answer is a JSON error."""
    if response.status_code < 400 or not _is_json(response):
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""
