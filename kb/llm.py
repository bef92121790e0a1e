"""Optional generative answerer: an OpenAI-compatible chat client and checks on what it says."""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kb.errors import ConfigError, KBError
from kb.prompts import NO_BASIS_MARK, NO_BASIS_REPLY, build_messages

TEMPERATURE = 0.1
_EXCERPT_CHARS = 200


class LLMError(KBError):
    """The chat endpoint could not be reached, timed out, failed, or answered in an unknown shape."""


@dataclass(frozen=True)
class LLMSettings:
    """Where the OpenAI-compatible endpoint is; base_url ends before /chat/completions."""

    base_url: str  # e.g. http://127.0.0.1:11434/v1
    model: str
    api_key: str = ""
    timeout: float = 60.0  # seconds, for connecting and for each read (not the whole answer)

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https") or not urlsplit(self.base_url).netloc:
            raise ConfigError(f"KB_LLM_BASE_URL must be an http(s) URL, got {self.base_url!r}")
        if not self.model:
            raise ConfigError("KB_LLM_MODEL is empty")
        if not self.timeout > 0:
            raise ConfigError(f"the LLM timeout must be positive, got {self.timeout}")

    def __repr__(self) -> str:
        # keeps the key out of logs and tracebacks that print the settings
        key = "***" if self.api_key else ""
        return f"LLMSettings(base_url={self.base_url!r}, model={self.model!r}, api_key={key!r}, timeout={self.timeout})"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    @classmethod
    def from_env(cls) -> "LLMSettings | None":
        """Settings from KB_LLM_BASE_URL, KB_LLM_MODEL, KB_LLM_API_KEY, KB_LLM_TIMEOUT; None if off."""
        base_url = os.environ.get("KB_LLM_BASE_URL", "").strip()
        model = os.environ.get("KB_LLM_MODEL", "").strip()
        if not base_url or not model:
            return None
        raw_timeout = os.environ.get("KB_LLM_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else cls.timeout
        except ValueError:
            raise ConfigError(f"KB_LLM_TIMEOUT must be a number of seconds, got {raw_timeout!r}") from None
        return cls(base_url, model, os.environ.get("KB_LLM_API_KEY", "").strip(), timeout)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ChatClient:
    """Talks to one OpenAI-compatible /chat/completions endpoint, plain or streaming."""

    def __init__(self, settings: LLMSettings):
        self.settings = settings
        # A local server (Ollama, vLLM, llama.cpp) must not be sent through an HTTP(S)_PROXY from
        # the environment, which urllib would otherwise do unless NO_PROXY happens to list it.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(settings.endpoint) else []
        self._opener = urllib.request.build_opener(*handlers)

    def complete(self, messages: list[dict]) -> str:
        """The assistant's whole reply to `messages`."""
        with self._open(messages, stream=False) as resp:
            raw = self._read(resp)
        data = self._parse_json(raw.decode("utf-8", errors="replace"))
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise self._malformed("no choices[0].message.content", raw.decode("utf-8", "replace")) from None
        if not isinstance(content, str):
            raise self._malformed("choices[0].message.content is not text", raw.decode("utf-8", "replace"))
        return content

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The assistant's reply as it is generated, piece by piece (OpenAI server-sent events).

        An LLMError can come after some pieces were already yielded if the connection drops.
        """
        with self._open(messages, stream=True) as resp:
            yield from self._events(resp)

    def _events(self, resp: http.client.HTTPResponse) -> Iterator[str]:
        finished = False
        for line in self._lines(resp):
            # other SSE fields (event:, id:, ": keep-alive" comments) carry nothing we need
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            data = self._parse_json(payload)
            piece, done = self._delta(data, payload)
            finished = finished or done
            if piece:
                yield piece
        if not finished:
            # a dropped connection looks like a clean end of stream; don't pass off half an answer
            raise LLMError(f"LLM endpoint {self.settings.endpoint} ended the stream before it finished")

    def _delta(self, data: Any, payload: str) -> tuple[str, bool]:
        """(text piece, whether this chunk ends the answer) of one streamed chunk."""
        if isinstance(data, dict) and "error" in data:
            raise LLMError(f"LLM endpoint {self.settings.endpoint} reported an error mid-stream: "
                           f"{self._excerpt(json.dumps(data['error'], ensure_ascii=False))}")
        try:
            choices = data["choices"]
            if not choices:  # usage-only chunks (stream_options.include_usage) have no choices
                return "", False
            choice = choices[0]
            piece = (choice.get("delta") or {}).get("content") or ""
        except (KeyError, TypeError, AttributeError):
            raise self._malformed("a stream chunk has no choices[0].delta", payload) from None
        if not isinstance(piece, str):
            raise self._malformed("choices[0].delta.content is not text", payload)
        return piece, choice.get("finish_reason") is not None

    def _open(self, messages: list[dict], *, stream: bool) -> http.client.HTTPResponse:
        s = self.settings
        body = {"model": s.model, "messages": messages, "temperature": TEMPERATURE, "stream": stream}
        headers = {"Content-Type": "application/json", "User-Agent": "PolicyKB",
                   "Accept": "text/event-stream" if stream else "application/json"}
        if s.api_key:
            headers["Authorization"] = f"Bearer {s.api_key}"
        req = urllib.request.Request(s.endpoint, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     headers=headers, method="POST")
        try:
            return self._opener.open(req, timeout=s.timeout)
        except urllib.error.HTTPError as e:
            raise LLMError(f"LLM endpoint {s.endpoint} returned HTTP {e.code}: {self._error_body(e)}") from None
        except urllib.error.URLError as e:
            raise self._network_error(e.reason) from None
        except (OSError, http.client.HTTPException) as e:
            raise self._network_error(e) from None

    def _read(self, resp: http.client.HTTPResponse) -> bytes:
        try:
            return resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise self._network_error(e) from None

    def _lines(self, resp: http.client.HTTPResponse) -> Iterator[str]:
        while True:
            try:
                line = resp.readline()
            except (OSError, http.client.HTTPException) as e:
                raise self._network_error(e) from None
            if not line:
                return
            yield line.decode("utf-8", errors="replace").rstrip("\r\n")

    def _network_error(self, reason: object) -> LLMError:
        endpoint = self.settings.endpoint
        if isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in str(reason):
            return LLMError(f"LLM endpoint {endpoint} timed out after {self.settings.timeout:g} s")
        return LLMError(f"cannot reach LLM endpoint {endpoint}: {reason}")

    def _parse_json(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise self._malformed("the response is not JSON", text) from None

    def _malformed(self, what: str, body: str) -> LLMError:
        return LLMError(f"malformed response from LLM endpoint {self.settings.endpoint}: {what}: "
                        f"{self._excerpt(body)!r}")

    def _error_body(self, e: urllib.error.HTTPError) -> str:
        try:
            return self._excerpt(e.read().decode("utf-8", errors="replace"))
        except (OSError, http.client.HTTPException):
            return "(no body)"

    def _excerpt(self, text: str) -> str:
        text = " ".join(text.split())
        if self.settings.api_key:  # some gateways echo the request headers back in their errors
            text = text.replace(self.settings.api_key, "***")
        return text[:_EXCERPT_CHARS] + ("…" if len(text) > _EXCERPT_CHARS else "")


# ---- output checks ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckedOutput:
    """A model reply after its [n] markers were checked against the passages it was given."""

    text: str  # markers normalised to [1][2]; markers to no passage removed
    used: tuple[int, ...]  # valid passage numbers, in order of first use
    unmarked: tuple[str, ...]  # sentences citing no passage (empty when refused)
    refused: bool

    @property
    def usable(self) -> bool:
        """Worth showing as an answer: not a refusal and backed by at least one passage."""
        return not self.refused and bool(self.used)


_OPEN, _CLOSE, _SEP = r"[\[［【]", r"[\]］】]", r"[,，、]"
# Up to three digits: a 4-digit [2019] is a year in a 文号 such as 教职成[2019]3号, not a marker.
_NUMBER = r"(?:资料)?\d{1,3}"  # models sometimes echo the intro's wording: [资料1]
_GROUP = rf"{_OPEN}\s*{_NUMBER}(?:\s*{_SEP}\s*{_NUMBER})*\s*{_CLOSE}"
_RUN = re.compile(rf"([ \t]*)((?:{_GROUP})+)")
_NUM = re.compile(r"\d+")
_MARKER = re.compile(r"\[(\d{1,3})\]")  # after normalisation every such marker is valid
_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*(?:[ \t]*(?:\[\d{1,3}\])+)?")
_REFUSAL_PHRASES = (NO_BASIS_MARK, "没有找到", "未找到", "无法回答", "不能回答", "无法根据",
                    "没有提及", "未提及", "没有相关", "未涉及", "没有涉及")
_NOT_WORDS = re.compile(r"[\W_]+")


def _normalise_markers(text: str, n_passages: int) -> str:
    """Every run of markers ([1,2], ［1］【2】, [1][9]) rewritten as [1][2] with only valid numbers."""
    def rewrite(m: re.Match[str]) -> str:
        numbers = dict.fromkeys(int(x) for x in _NUM.findall(m.group(2)))  # dedupe, keep order
        valid = "".join(f"[{n}]" for n in numbers if 1 <= n <= n_passages)
        return m.group(1) + valid if valid else ""
    return _RUN.sub(rewrite, text)


def _sentences(text: str) -> list[str]:
    """Sentences split at 。！？； and newlines; markers just after the stop belong to the sentence."""
    return [s.strip() for s in _SENTENCE.findall(text) if _NOT_WORDS.sub("", _MARKER.sub("", s))]


def _is_refusal(text: str, used: tuple[int, ...]) -> bool:
    bare = _NOT_WORDS.sub("", _MARKER.sub("", text))
    if bare.startswith(NO_BASIS_MARK) or bare == _NOT_WORDS.sub("", NO_BASIS_REPLY):
        return True
    # "资料未提及X，但规定了Y[1]" is a partial answer; refusal phrasing counts only when nothing is cited
    return not used and any(p in bare for p in _REFUSAL_PHRASES)


def check_output(text: str, n_passages: int) -> CheckedOutput:
    """Check a reply against passages numbered 1..n_passages: fix markers, flag, detect refusals."""
    # reasoning models served raw (Qwen3, DeepSeek-R1 on Ollama/llama.cpp) prefix their thoughts
    text = _normalise_markers(_THINK.sub("", text), n_passages).strip()
    used = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(text)))
    refused = _is_refusal(text, used)
    unmarked = () if refused else tuple(s for s in _sentences(text) if not _MARKER.search(s))
    return CheckedOutput(text, used, unmarked, refused)


# ---- convenience -----------------------------------------------------------------------------

def generate(question: str, passages: list[tuple[int, str, str]], settings: LLMSettings, *,
             client: ChatClient | None = None) -> CheckedOutput:
    """Ask the model `question` over numbered `passages` and check its reply."""
    client = client or ChatClient(settings)
    reply = client.complete(build_messages(question, passages))
    return check_output(reply, len(passages))


def generate_stream(question: str, passages: list[tuple[int, str, str]], settings: LLMSettings, *,
                    client: ChatClient | None = None) -> Iterator[str]:
    """The model's reply in pieces, for the UI; check_output("".join(pieces), len(passages)) after."""
    client = client or ChatClient(settings)
    yield from _drop_think(client.stream(build_messages(question, passages)))


def _drop_think(pieces: Iterable[str]) -> Iterator[str]:
    """`pieces` without a leading <think>…</think> block, so the UI never shows a model's reasoning."""
    buffer = ""
    it = iter(pieces)
    for piece in it:
        buffer += piece
        head = buffer.lstrip()
        if "<think>".startswith(head) and len(head) < len("<think>"):
            continue  # too short to tell yet
        if head.startswith("<think>"):
            if "</think>" not in buffer:
                continue
            buffer = buffer.split("</think>", 1)[1].lstrip()
        if buffer:
            yield buffer
        yield from it
        return
    if buffer and not buffer.lstrip().startswith("<think>"):
        yield buffer
