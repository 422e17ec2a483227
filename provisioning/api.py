"""The admin API client: one requests.Session, bounded retries, every failure one typed refusal.

    api = AdminClient("http://127.0.0.1:8470", token)
    api.get("/v1/admin/merchants")
    api.send("POST", "/v1/admin/desk/topup", {"member_id": "m-1", "eur_cents": 1250, "request_id": rid})

Network failures (no connection, timeout, an answer that is not the
server's JSON) become ServerUnreachable / ServerTimeout / ServerBadResponse
(exit 3); a refusal the server gives becomes ServerRefused or TokenRejected
(exit 2). A write is retried only with the same request id, which the
server applies at most once, so a retry never doubles anything.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final, Mapping, Protocol

import requests

import floreyn
from floreyn.provisioning.errors import (
    ServerBadResponse,
    ServerRefused,
    ServerTimeout,
    ServerUnreachable,
    TokenRejected,
    invalid,
    worded,
)

MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024  # the largest JSON answer we read (a full audit page is ~1 MB)
MAX_DOWNLOAD_BYTES: Final = 2 * 1024 * 1024 * 1024  # a year of postings as CSV is far below this
RETRY_DELAYS_S: Final = (0.3, 1.0)  # two retries: rides over a server restart, gives up in seconds
RETRY_STATUSES: Final = frozenset({502, 503, 504})  # a proxy or a busy server; the request id keeps it safe
_CHUNK_BYTES: Final = 64 * 1024
QueryParams = Mapping[str, str | int | float | None]  # a GET's query string, as requests takes it



class ByteSink(Protocol):
    """Where a streamed answer goes: a binary file, or standard output through a decoder."""

    def write(self, data: bytes, /) -> int: ...

class AdminClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout_s: float = 15.0,
        session: requests.Session | None = None,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise invalid("--server", "{base_url!r} is not an http(s) URL", base_url=base_url)
        assert 0 < timeout_s <= 600 and len(retry_delays_s) <= 5
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.retry_delays_s = retry_delays_s
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"floreyn-provision/{floreyn.__version__}"

    def close(self) -> None:
        self.session.close()

    # -- calls -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The server's /v1/health (no token needed): version and the server's public key."""
        data = self._json("GET", "/v1/health", None, None, auth=False)
        if not isinstance(data.get("server_key"), str) or len(data["server_key"]) != 64:
            raise ServerBadResponse(url=self.base_url, detail="health answer without server_key")
        return data

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._json("GET", path, None, {k: v for k, v in params.items() if v is not None} or None)

    def send(self, method: str, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        """A write; the body must carry the request id that makes retrying it safe."""
        assert method in ("POST", "PATCH") and isinstance(body.get("request_id"), str)
        return self._json(method, path, body, None)

    def download(self, path: str, params: QueryParams, sink: ByteSink) -> int:
        """Stream a non-JSON answer (the CSV export) into `sink`; returns the bytes written."""
        resp = self._request("GET", path, None, params, auth=True, stream=True)
        written = 0
        with resp:
            if resp.status_code != 200:
                self._refusal(resp.status_code, self._read(resp))
            try:
                for chunk in resp.iter_content(_CHUNK_BYTES):
                    written += len(chunk)
                    if written > MAX_DOWNLOAD_BYTES:
                        raise ServerBadResponse(url=self.base_url, detail="download larger than 2 GB")
                    sink.write(chunk)
            except requests.RequestException as exc:
                raise ServerUnreachable(url=self.base_url, detail=f"connection lost during download: {exc}") from None
        return written

    # -- plumbing --------------------------------------------------------------------

    def _json(
        self, method: str, path: str, body: Mapping[str, object] | None, params: QueryParams | None, *, auth: bool = True
    ) -> dict[str, Any]:
        resp = self._request(method, path, body, params, auth=auth, stream=True)
        with resp:
            content = self._read(resp)
        if resp.status_code != 200:
            self._refusal(resp.status_code, content)
        try:
            data = json.loads(content)
        except ValueError:
            raise ServerBadResponse(url=self.base_url, detail=f"{method} {path}: not JSON") from None
        if not isinstance(data, dict):
            raise ServerBadResponse(url=self.base_url, detail=f"{method} {path}: not a JSON object")
        return data

    def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | None,
        params: QueryParams | None,
        *,
        auth: bool,
        stream: bool,
    ) -> requests.Response:
        headers = {"Accept": "application/json"}
        if auth:
            if not self.token:
                raise TokenRejected(server_code="no_token", status=0, **worded("message", "no token given."))
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base_url + path
        for attempt in range(len(self.retry_delays_s) + 1):
            last = attempt == len(self.retry_delays_s)
            try:
                resp = self.session.request(
                    method, url, json=body, params=params, headers=headers, timeout=self.timeout_s, stream=stream
                )
            except requests.Timeout:
                if last:
                    raise ServerTimeout(url=self.base_url, timeout_s=self.timeout_s) from None
            except requests.ConnectionError as exc:
                if last:
                    raise ServerUnreachable(url=self.base_url, detail=_short(exc)) from None
            except requests.RequestException as exc:  # an invalid URL and the like: retrying will not help
                raise ServerUnreachable(url=self.base_url, detail=_short(exc)) from None
            else:
                if resp.status_code not in RETRY_STATUSES or last:
                    return resp
                resp.close()
            time.sleep(self.retry_delays_s[attempt])
        raise AssertionError("unreachable")

    def _read(self, resp: requests.Response) -> bytes:
        chunks, size = [], 0
        try:
            for chunk in resp.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ServerBadResponse(url=self.base_url, detail=f"answer larger than {MAX_RESPONSE_BYTES} bytes")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise ServerUnreachable(url=self.base_url, detail=f"connection lost: {_short(exc)}") from None
        return b"".join(chunks)

    def _refusal(self, status: int, content: bytes) -> None:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("error"), str):
            raise ServerBadResponse(url=self.base_url, detail=f"HTTP {status} without a Floreyn error")
        message_en = str(data.get("message", ""))
        message_nl = str(data.get("message_nl", message_en))
        cls = TokenRejected if status in (401, 403) else ServerRefused
        raise cls(
            server_code=data["error"],
            status=status,
            message_nl=message_nl,
            message_en=message_en,
            server_params=data.get("params") or {},
        )


def _short(exc: BaseException) -> str:
    """requests' messages nest the whole urllib3 story; the last part says what happened."""
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Temporary failure in name resolution",
        "Connection reset",
    ):
        if marker in text:
            return marker.lower()
    return text[:200]
