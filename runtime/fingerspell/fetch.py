"""Download an image from an http(s) URL, with bounded time and size."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from fingerspell import __version__, waiting
from fingerspell.errors import FetchError

USER_AGENT = f"fingerspell/{__version__} (+https://pypi.org/project/fingerspell/)"


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0  # seconds to establish the connection
    read_timeout: float = 10.0  # seconds of silence allowed between bytes
    deadline: float = 30.0  # seconds for the whole download
    max_bytes: int = 20_000_000  # a 12 MP phone JPEG is 3–8 MB
    max_redirects: int = 5


DEFAULT_LIMITS = FetchLimits()


def fetch(url: str, limits: FetchLimits = DEFAULT_LIMITS, block_private: bool = False) -> bytes:
    """Return the body of `url`, or raise FetchError with a one-line reason naming the URL.

    block_private refuses hosts that resolve to private, loopback, link-local or reserved
    addresses, at every redirect hop (for services that fetch URLs their users send).
    The deadline covers everything, headers included: requests' timeouts only bound each read,
    so a server sending a header byte every few seconds would otherwise hold the call forever.
    The download runs in a daemon thread; past the deadline its sockets are shut down, which
    ends the thread at once, and the caller gets a FetchError.
    """
    result: list[bytes | BaseException] = []
    sockets: list[socket.socket] = []

    def work() -> None:
        try:
            result.append(_fetch(url, limits, block_private, sockets))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    worker = threading.Thread(target=work, name=f"fetch {url[:60]}", daemon=True)
    worker.start()
    waiting.join(worker, limits.deadline + 1)
    if not result:
        for sock in list(sockets):  # a long-lived service must not keep a thread per bad server
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise FetchError(f"{url}: download took longer than {limits.deadline:g} s")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _session(sockets: list[socket.socket], block_private: bool = False) -> Any:
    """A requests session whose connections note their sockets in `sockets` (see fetch) and, with
    block_private, refuse a peer that is not public: the name is resolved again to connect, after
    _check_url's look, and a DNS answer that changed in between (rebinding) must not get in."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Noted:
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()  # type: ignore[misc]
            sockets.append(sock)
            if block_private:
                peer = _public_peer(sock)
                if peer is not None:
                    sock.close()
                    raise NonPublicPeer(peer)
            return sock

    class Conn(Noted, HTTPConnection):
        pass

    class TLSConn(Noted, HTTPSConnection):
        pass

    class Pool(HTTPConnectionPool):
        ConnectionCls = Conn

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConn

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, Adapter())
    return session


def _fetch(url: str, limits: FetchLimits, block_private: bool, sockets: list[socket.socket]
           ) -> bytes:
    import requests
    import urllib3

    start = time.monotonic()
    session = _session(sockets, block_private)
    current = url
    try:
        for _ in range(limits.max_redirects + 1):
            _check_url(url, current, block_private)
            with session.get(current, stream=True, allow_redirects=False,
                             timeout=(limits.connect_timeout, limits.read_timeout),
                             headers={"User-Agent": USER_AGENT, "Accept": "image/*"}) as resp:
                if resp.is_redirect:
                    current = urljoin(current, resp.headers["Location"])
                    continue
                if 300 <= resp.status_code < 400:
                    raise FetchError(f"{url}: HTTP {resp.status_code} redirect without a Location "
                                     "header")
                return _read_body(url, resp, limits, start)
        raise FetchError(f"{url}: too many redirects (more than {limits.max_redirects})")
    except FetchError:
        raise
    except NonPublicPeer as exc:
        raise FetchError(f"{url}: refused, the connection went to the non-public address {exc} "
                         "(the name resolved to another address when first checked)") from None
    except requests.exceptions.ConnectTimeout:
        raise FetchError(f"{url}: connection timed out after {limits.connect_timeout:g} s") from None
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
        if "timed out" in str(exc).lower() or isinstance(exc, requests.exceptions.ReadTimeout):
            raise FetchError(f"{url}: no response within {limits.read_timeout:g} s") from None
        raise FetchError(f"{url}: connection failed ({_reason(exc)})") from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"{url}: download failed ({_reason(exc)})") from None
    except ValueError as exc:  # requests parses a redirect's Location even when not following it
        raise FetchError(f"{url}: malformed URL in the response's redirect ({exc})") from None
    except urllib3.exceptions.ReadTimeoutError:  # raised from the body, past requests' wrappers
        raise FetchError(f"{url}: no data for {limits.read_timeout:g} s during the download") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # e.g. a body cut short
        raise FetchError(f"{url}: download failed ({_reason(exc)})") from None
    finally:
        session.close()


def _check_url(original: str, current: str, block_private: bool) -> None:
    via = "" if current == original else f" (redirected to {current})"
    try:
        parts = urlsplit(current)
        parts.port  # noqa: B018 - parses the port, which raises for 'http://h:99999'
    except ValueError as exc:
        raise FetchError(f"{original}: malformed URL ({exc}){via}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{original}: only http and https URLs are allowed (got {scheme}:){via}")
    if not parts.hostname:
        raise FetchError(f"{original}: no host in {current}")
    if block_private:
        for addr in _resolve(original, parts.hostname, parts.port or (443 if scheme == "https" else 80)):
            if not addr.is_global:
                raise FetchError(f"{original}: refused, {parts.hostname} resolves to the non-public "
                                 f"address {addr}")


class NonPublicPeer(Exception):
    """Raised inside urllib3's connect (not an OSError, so that nothing retries or wraps it)."""


def _public_peer(sock: socket.socket) -> str | None:
    """The peer's address when it is not a public one, else None."""
    try:
        addr = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    except (OSError, ValueError):
        return "unknown"
    mapped = getattr(addr, "ipv4_mapped", None)
    return None if (mapped or addr).is_global else str(addr)


def _resolve(original: str, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"{original}: cannot resolve {host} ({exc.strerror})") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _read_body(url: str, resp: Any, limits: FetchLimits, start: float) -> bytes:
    if resp.status_code >= 400:
        raise FetchError(f"{url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip())
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype and not (ctype.startswith("image/") or ctype in _BINARY_TYPES):
        raise FetchError(f"{url}: not an image (Content-Type {ctype})")
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limits.max_bytes:
        raise FetchError(f"{url}: {int(length):,} bytes is over the {limits.max_bytes:,}-byte limit")
    chunks, total = [], 0
    # read1 returns whatever has arrived, so a slow trickle still meets the deadline check
    for chunk in iter(lambda: resp.raw.read1(64 * 1024, decode_content=True), b""):
        total += len(chunk)
        if total > limits.max_bytes:
            raise FetchError(f"{url}: body is over the {limits.max_bytes:,}-byte limit")
        if time.monotonic() - start > limits.deadline:
            raise FetchError(f"{url}: download took longer than {limits.deadline:g} s")
        chunks.append(chunk)
    if total == 0:
        raise FetchError(f"{url}: empty response")
    return b"".join(chunks)


# Servers often label images generically; the decoder decides after download.
_BINARY_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})


def _reason(exc: BaseException) -> str:
    import ssl

    # By the error's type first: its words are the OS's (glibc's 'Name or service not known' is
    # macOS's 'nodename nor servname provided' and Windows' 'getaddrinfo failed'), and on those
    # the user got requests' wrapping cut at 160 characters instead of a reason.
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(cause, ConnectionRefusedError):
            return "Connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "certificate verify failed"
    while exc.args and isinstance(exc.args[0], BaseException):  # requests wraps urllib3's errors
        exc = exc.args[0]
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    for marker in ("Connection refused", "No route to host", "certificate verify failed"):
        if marker in text:
            return marker
    for marker in ("Name or service not known", "Temporary failure in name resolution",
                   "nodename nor servname provided", "getaddrinfo failed"):
        if marker in text:
            return "cannot resolve the host name"
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """An error and what it wraps: requests' and urllib3's errors hold the socket's in their
    args, `reason`, __cause__ and __context__."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 50:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (*e.args, getattr(e, "reason", None), e.__cause__, e.__context__)
                    if isinstance(x, BaseException))
