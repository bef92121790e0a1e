"""A scripted OpenAI-compatible chat server on 127.0.0.1 for tests: JSON and SSE replies."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

@dataclass
class Reply:
    """What the fake server sends back: chat text (as JSON or SSE chunks) or a raw body."""

    content: str | list[str] = ""  # a list is sent as one SSE chunk per item when streaming
    status: int = 200
    raw: bytes | None = None  # sent as is, instead of a chat completion
    delay: float = 0.0  # seconds to stall before answering
    done: bool = True  # end a stream with data: [DONE]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class FakeServer:
    base_url: str
    script: Callable[[Received], Reply] = lambda req: Reply("")
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with `replies`, in order."""
        queue = list(replies)
        self.script = lambda req: queue.pop(0)


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    data = {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class _QuietServer(ThreadingHTTPServer):
    """A test server on which a client that hangs up mid-reply (a timeout test does) is no error."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset
            super().handle_error(request, client_address)


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            req = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            server.received.append(req)
            reply = server.script(req)
            if reply.delay:
                server.release.wait(reply.delay)  # set at teardown so no handler outlives its test
            if self.path != "/v1/chat/completions":
                return self._send(404, b'{"error": "not found"}')
            if reply.raw is not None or reply.status >= 400:
                return self._send(reply.status, reply.raw or b'{"error": {"message": "boom"}}')
            if body.get("stream"):
                return self._stream(reply)
            text = reply.content if isinstance(reply.content, str) else "".join(reply.content)
            data = {"id": "c1", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}]}
            self._send(200, json.dumps(data, ensure_ascii=False).encode())

        def _send(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, reply: Reply) -> None:
            pieces = [reply.content] if isinstance(reply.content, str) else reply.content
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()  # no Content-Length: the stream ends when the connection closes
            self.wfile.write(_chunk({"role": "assistant", "content": ""}))
            self.wfile.write(b": keep-alive\n\n")
            for piece in pieces:
                self.wfile.write(_chunk({"content": piece}))
                self.wfile.flush()
            if reply.done:
                self.wfile.write(_chunk({}, "stop") + b"data: [DONE]\n\n")
            self.close_connection = True

    return Handler


@contextmanager
def serve() -> Iterator[FakeServer]:
    """Run a FakeServer until the block ends; no request handler outlives it."""
    fake = FakeServer(base_url="")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=2)


