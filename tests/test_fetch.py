"""URLs against a real server on 127.0.0.1: each fault ends in a clear error within its deadline."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest
from httpserver import Server
from PIL import Image

from fingerspell.errors import FetchError
from fingerspell.fetch import FetchLimits, fetch
from fingerspell.sources import load_pixels

LIMITS = FetchLimits(connect_timeout=2, read_timeout=1, deadline=3, max_bytes=1_000_000)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 200, 10)).save(buf, "JPEG")
    s = Server(buf.getvalue())
    yield s
    s.close()


def test_good_image_and_redirect(server: Server) -> None:
    for path in ("/good.jpg", "/redirect", "/octet"):
        px = load_pixels(server.url + path, (16, 16), fetcher=lambda u: fetch(u, LIMITS))
        assert px.shape == (16, 16, 3) and px[..., 1].mean() > 150


@pytest.mark.parametrize("path,match", [
    ("/404", "HTTP 404"),
    ("/500", "HTTP 500"),
    ("/html", "not an image .Content-Type text/html"),
    ("/big", "over the 1,000,000-byte limit"),
    ("/big-nolength", "over the 1,000,000-byte limit"),
    ("/silent", "no response within 1 s"),
    ("/trickle", "longer than 3 s"),
    ("/loop", "too many redirects"),
    ("/to-file", "only http and https"),
    ("/short", "download failed"),
    ("/stall", "no data for 1 s"),
    ("/slow-headers", "longer than 3 s"),
    ("/bad-location", "malformed URL in the response's redirect"),
    ("/no-location", "redirect without a Location"),
])
def test_faults_are_clear_and_bounded(server: Server, path: str, match: str) -> None:
    start = time.monotonic()
    with pytest.raises(FetchError, match=match) as info:
        fetch(server.url + path, LIMITS)
    assert server.url + path in str(info.value)
    assert time.monotonic() - start < LIMITS.deadline + 1.5


def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(FetchError, match="connection failed"):
        fetch(f"http://127.0.0.1:{port}/x.jpg", LIMITS)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/a.jpg",
                                 "data:image/png;base64,AAAA"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        fetch(url)
    with pytest.raises(FetchError):
        load_pixels(url, (8, 8))


def test_not_an_image_body(server: Server) -> None:
    from fingerspell.errors import InputError

    with pytest.raises(InputError, match="not an image"):
        load_pixels(server.url + "/big", (8, 8),
                    fetcher=lambda u: fetch(u, FetchLimits(max_bytes=5_000_000)))
    assert np.array([1])  # the server is still up for other tests


def test_private_addresses_can_be_refused(server: Server) -> None:
    with pytest.raises(FetchError, match=r"non-public address 127\.0\.0\.1"):
        fetch(server.url + "/good.jpg", LIMITS, block_private=True)
    assert fetch(server.url + "/good.jpg", LIMITS)  # off by default (the CLI's setting)


def test_redirect_hops_are_checked(server: Server) -> None:
    with pytest.raises(FetchError, match=r"redirected to file:///etc/passwd"):
        fetch(server.url + "/to-file", LIMITS)


@pytest.mark.parametrize("url", ["http://[::1", "http://[zz]/x.jpg", "http://h:99999/x.jpg"])
def test_malformed_urls_are_input_errors(url: str) -> None:
    with pytest.raises(FetchError, match="malformed URL") as info:
        fetch(url, LIMITS)
    assert url in str(info.value)


def test_a_download_past_its_deadline_leaves_no_thread(server: Server) -> None:
    import threading

    url = server.url + "/slow-headers"
    with pytest.raises(FetchError, match="longer than 3 s"):
        fetch(url, LIMITS)
    workers = [t for t in threading.enumerate() if t.name == f"fetch {url[:60]}"]
    for t in workers:
        t.join(5)  # its socket was shut down: it ends at once, not when the server stops
    assert not any(t.is_alive() for t in workers)
