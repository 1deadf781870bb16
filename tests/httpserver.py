"""A real HTTP server on 127.0.0.1 for URL tests, with routes that misbehave on purpose."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REDIRECTS = {"/redirect": "/good.jpg", "/loop": "/loop", "/to-file": "file:///etc/passwd",
             "/bad-location": "http://[::1"}  # the last one is not a URL at all


class Handler(BaseHTTPRequestHandler):
    image: bytes = b""

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, code: int, body: bytes, ctype: str = "image/jpeg", length: bool = True) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]  # "/slow-headers?3": one route, distinct URLs
        if path == "/good.jpg":
            self._send(200, self.image)
        elif path == "/octet":
            self._send(200, self.image, "application/octet-stream")
        elif path == "/404":
            self._send(404, b"not found", "text/plain")
        elif path == "/500":
            self._send(500, b"oops", "text/plain")
        elif path == "/html":
            self._send(200, b"<html>hello</html>", "text/html")
        elif path == "/big":
            self._send(200, b"\xff" * 3_000_000)
        elif path == "/big-nolength":
            self._send(200, b"", length=False)  # headers only; the body follows in pieces
            for _ in range(60):
                self.wfile.write(b"\xff" * 65536)
        elif path == "/silent":
            time.sleep(5)
            self._send(200, self.image)
        elif path == "/trickle":
            self._send(200, b"", length=False)  # headers only; the body follows in pieces
            for _ in range(100):
                self.wfile.write(b"\xff" * 100)
                self.wfile.flush()
                time.sleep(0.2)
        elif path == "/short":  # promises more bytes than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(self.image) + 5000))
            self.end_headers()
            self.wfile.write(self.image)
            self.close_connection = True
        elif path == "/stall":  # a little of the body, then silence
            self._send(200, b"", length=False)
            self.wfile.write(b"\xff" * 100)
            self.wfile.flush()
            time.sleep(5)
        elif path == "/slow-headers":  # a header line every 0.5 s: each read is quick enough
            self.send_response(200)
            for i in range(40):
                self.send_header(f"X-Slow-{i}", "1")
                self.flush_headers()
                time.sleep(0.5)
            self.end_headers()
        elif path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[path])
            self.end_headers()
        elif path == "/no-location":
            self.send_response(302)
            self.end_headers()
        else:
            self._send(404, b"", "text/plain")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (size limits, timeouts) are the point of these tests


class Server:
    def __init__(self, image: bytes) -> None:
        handler = type("H", (Handler,), {"image": image})
        self.httpd = QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
