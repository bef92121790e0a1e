"""The scripted OpenAI test server: a client that hangs up mid-reply leaves no traceback behind."""

import json
import socket
import time

from tests.fake_openai import Reply, serve


def _hang_up_on(fake) -> None:
    """Send a chat request, then close the socket before the (delayed) reply is written."""
    host, port = fake.base_url.split("//")[1].split("/")[0].split(":")
    body = json.dumps({"model": "m", "messages": [], "stream": True}).encode()
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close


def test_a_client_hanging_up_is_not_an_error(capfd):
    with serve() as fake:
        fake.reply(Reply(content=["甲" * 4096] * 64, delay=0.3))
        _hang_up_on(fake)
        deadline = time.monotonic() + 5
        while not fake.received and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.6)  # the handler wakes from its delay and writes into the closed socket
    err = capfd.readouterr().err
    assert fake.received, "the request never reached the server"
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err, err
