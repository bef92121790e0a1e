"""What the web app does against hostile documents and visitors: document text shown in the chat as
text, never markup; and, with a login, nothing about the corpus served before it.

Gradio's Chatbot renders a message as HTML even with render_markdown=False (it only strips
scripts and event handlers), so an <img> in a document fetched its URL in every visitor's browser.
Gradio's own --auth guards /config and the API, but not the page's `window.gradio_api_info` (which
lists every document id), /openapi.json, /manifest.json, /gradio_api/user|token|app_id|startup-events
or cancel/reset; `LoginGate` closes all of them.
"""

from __future__ import annotations

import html
import json
import re

# What a visitor may fetch before logging in: the login form itself and what draws it.
_OPEN_PATHS = re.compile(r"^/(?:|login/?|logout/?|theme\.css|favicon\.ico|(?:assets|static|svelte)/.*"
                         r"|gradio_api/(?:login/?|theme\.css|static/.*|assets/.*))$")
_API_INFO = re.compile(rb"<script>window\.gradio_api_info = .*?;</script>", re.S)
NOT_LOGGED_IN = {"error": "Not authenticated", "detail": "log in first"}
# Gradio's launch() asks its own server this before serving; it tells nothing about the corpus.
_LAUNCH_CHECK = "/gradio_api/startup-events"
_LOOPBACK = ("127.0.0.1", "::1")


def chat_text(text: str) -> str:
    """Text for a chat bubble, shown as the characters it is: <, > and & escaped (quotes need not be)."""
    return html.escape(text, quote=False)


class LoginGate:
    """ASGI middleware for a Gradio app with auth: a request without a logged-in session gets the login
    page (the page's API description removed) and what draws it; anything else answers 401.

    Finds the Gradio app (and its sessions) in the ASGI scope, as Starlette puts it there. Without
    auth configured it passes everything through.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        gradio = scope.get("app")
        if scope["type"] not in ("http", "websocket") or getattr(gradio, "auth", None) is None \
                or _logged_in(gradio, scope):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        root = (getattr(gradio, "root_path", "") or scope.get("root_path", "") or "").rstrip("/")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        client = (scope.get("client") or ("",))[0]
        if path == _LAUNCH_CHECK and client in _LOOPBACK:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket" or not _OPEN_PATHS.match(path):
            await _refuse(scope, send)
        elif path == "/":
            await self.app(scope, receive, _without_api_info(send))
        else:
            await self.app(scope, receive, send)


def _logged_in(gradio, scope) -> bool:
    cookies = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                cookies[key] = val
    cookie_id = getattr(gradio, "cookie_id", "")
    tokens = getattr(gradio, "tokens", {}) or {}
    return any(cookies.get(f"{name}-{cookie_id}") in tokens for name in ("access-token", "access-token-unsecure"))


async def _refuse(scope, send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps(NOT_LOGGED_IN).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _without_api_info(send):
    """A `send` that buffers the page and removes the <script> setting window.gradio_api_info."""
    start: dict = {}
    parts: list[bytes] = []

    async def filtered(message):
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        parts.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _API_INFO.sub(b"<script>window.gradio_api_info = {};</script>", b"".join(parts))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-encoding")]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return filtered
