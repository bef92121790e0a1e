"""Milvus (a Milvus Lite .db file, or a Milvus server) holding the vectors and the BM25 indexes.

Milvus does the searching: its own BM25 over the chunk text (its jieba analyzer) and over the
character n-grams, exact or HNSW inner product over the vectors, and metadata filters; the index
folder keeps chunks.jsonl and docs.jsonl, and this store maps Milvus' chunk ids back to them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from kb.config import SearchFilters
from kb.errors import BadIndexError, ConfigError
from kb.metadata import normalize_doc_number
from kb.tokenize import DOMAIN_TERMS, STOP_WORDS, analyzer_fingerprint, char_query_tokens, normalize

INSTALL = "pip install pymilvus==3.0.2 milvus-lite==3.2.2"
STATE_FILE = "milvus.json"
SCHEMA_VERSION = 1
DESCRIPTION = "PolicyKB chunks"
# a collection property: schema, model and dimension; only a collection that has one is ever dropped
IDENTITY = "policykb.identity"
MAX_BYTES = 65_535  # Milvus' longest VARCHAR
BATCH = 256
# punctuation would otherwise be indexed as words by Milvus' jieba analyzer
_PUNCTUATION = tuple("，。、；：？！（）《》〈〉【】〔〕“”‘’「」…—·,.;:?!()[]<>\"'-/")
IDF_ANALYZERS = ("words",)
log = logging.getLogger(__name__)


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise ConfigError(f"the milvus backend needs pymilvus: {INSTALL}") from None
    return pymilvus


def is_lite(uri: str) -> bool:
    """A .db path is a Milvus Lite file, run inside this process; anything else is a server."""
    return not uri.startswith(("http://", "https://", "tcp://")) and uri.endswith(".db")


def check_uri(uri: str) -> None:
    """Refuse a URI that is neither a Milvus Lite .db path nor a server address."""
    if not uri:
        raise ConfigError("the milvus backend needs --milvus-uri: a .db file (Milvus Lite) or http://host:19530")
    if not (is_lite(uri) or uri.startswith(("http://", "https://", "tcp://"))):
        raise ConfigError(f"--milvus-uri {uri!r}: give a Milvus Lite file ending in .db or a server address "
                          f"http://host:19530")


def connect(uri: str, *, create: bool = False):
    """A client for `uri`; a missing Lite file or an unreachable server is an error naming the URI."""
    pymilvus = _pymilvus()
    if is_lite(uri):
        try:
            import milvus_lite  # noqa: F401
        except ImportError:
            raise ConfigError(f"--milvus-uri {uri} is a Milvus Lite file, which needs milvus-lite: {INSTALL}") from None
        path = Path(uri)
        if not create and not path.exists():
            raise BadIndexError(f"the Milvus Lite file {uri} is missing; rebuild with `python -m kb index CORPUS "
                                f"--index INDEX --backend milvus --milvus-uri {uri}`")
        path.parent.mkdir(parents=True, exist_ok=True)
        _quiet_lite()
    try:
        client = pymilvus.MilvusClient(uri=uri, timeout=10)
        client.list_collections()
    except pymilvus.exceptions.MilvusException as e:
        hint = ("; Milvus Lite serves one process at a time: stop the other process using it (app.py, another "
                "`kb index`) or use a Milvus server" if is_lite(uri) else "")
        raise BadIndexError(f"cannot reach Milvus at {uri}: {e.message}{hint}") from e
    return client


def _quiet_lite() -> None:
    """Milvus Lite runs in this process: its jieba would announce its dictionary, and a file held by
    another process would print a traceback before the error this module raises says so plainly."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("milvus_lite.server_manager").setLevel(logging.CRITICAL)


def release(uri: str) -> None:
    """Stop the Milvus Lite engine this process runs for `uri` (every client of it here), so that
    another process can open the file; nothing for a server."""
    if is_lite(uri):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


@dataclass(frozen=True)
class MilvusRow:
    """One chunk as Milvus holds it; `text` and `grams` are what its two BM25 indexes analyse."""

    chunk_id: str
    doc_id: str
    doc_number: str
    issuer: str
    date: str
    content_hash: str  # the document's: a hit whose document changed since is not shown
    text: str
    grams: str  # the chunk's character unigrams and bigrams (kb.tokenize.char_tokens), space-separated
    vector: np.ndarray

    def fingerprint(self, build: str) -> str:
        """Changes whenever anything sent to Milvus for this row would: only such rows are re-sent.
        `build` names what is the same for every row: schema, embedder, analyzers."""
        h = hashlib.sha256()
        for part in (build, self.content_hash, self.doc_id, self.doc_number, self.issuer, self.date, self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:32]


@dataclass(frozen=True)
class Ranked:
    """One retriever's best chunks from Milvus, best first, with the content hash each was indexed with."""

    chunk_ids: list[str]
    scores: list[float]
    content_hashes: list[str]


def filter_expression(filters: SearchFilters) -> str:
    """SearchFilters as a Milvus boolean expression over the row fields ("" when nothing is filtered).

    Mirrors kb.retrieve.allowed_rows: a document named by id or 文号 (any bracket form), an issuing
    body containing any given text, an issue date within the range (documents without one excluded).
    """
    parts = []
    if filters.doc_ids:
        wanted = sorted(set(filters.doc_ids) | {n for n in map(normalize_doc_number, filters.doc_ids) if n})
        listed = _literal_list(wanted)
        parts.append(f"(doc_id in {listed} or doc_number in {listed})")
    if filters.issuers:
        parts.append("(" + " or ".join(f"issuer like {_literal('%' + x + '%')}" for x in filters.issuers) + ")")
    if filters.date_from or filters.date_to:
        parts.append('date != ""')
        if filters.date_from:
            parts.append(f"date >= {_literal(filters.date_from)}")
        if filters.date_to:
            parts.append(f"date <= {_literal(filters.date_to)}")
    return " and ".join(parts)


def _literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a double-quoted string with \" and \\ escaped


def _literal_list(values: list[str]) -> str:
    return "[" + ", ".join(map(_literal, values)) + "]"


def _words_analyzer() -> dict:
    """Milvus' jieba analyzer with the project's policy terms and stop words."""
    return {"tokenizer": {"type": "jieba", "mode": "search", "dict": ["_default_", *map(normalize, DOMAIN_TERMS)]},
            "filter": [{"type": "stop", "stop_words": sorted(STOP_WORDS | set(_PUNCTUATION))}]}


def _grams_analyzer(lite: bool) -> dict:
    """Splits the space-separated n-grams apart again: "whitespace" on a server; Milvus Lite has only
    "standard" (split at non-word characters), which keeps CJK n-grams whole as well."""
    return {"tokenizer": "standard" if lite else "whitespace"}


class MilvusStore:
    """Chunks in one Milvus collection: text (BM25, jieba), grams (BM25, n-grams) and dense vectors."""

    ranks_on_server = True  # top k per retriever from Milvus, not a score for every row

    def __init__(self, client, uri: str, collection: str, df: dict[str, dict[str, int]], n: int,
                 sent: dict[str, int] | None = None):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.df = df  # analyzer -> token -> chunks containing it, for idf
        self.n = n
        self.sent = sent or {}  # what the last build sent: {"upserted", "deleted", "kept"}
        # the three searches of a question at once: a server answers them in parallel (Milvus Lite too, partly)
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="milvus-search")

    @classmethod
    def build(cls, rows: list[MilvusRow], word_tokens: list[list[str]], *, index_dir: Path, uri: str,
              collection: str = "", embedder: str, dim: int, kind: str, hnsw_m: int = 32,
              fresh: bool = False) -> "MilvusStore":
        """Bring the collection in line with `rows`: upsert new or changed rows, delete the rest.

        `collection` "" keeps the one the index at `index_dir` used, or names one after that folder.
        """
        check_uri(uri)
        index_dir = Path(index_dir).resolve()
        if is_lite(uri) and index_dir in Path(uri).resolve().parents:
            raise ConfigError(f"--milvus-uri {uri} is inside the index folder {index_dir}, whose files PolicyKB "
                              f"writes and deletes; put the Milvus Lite file beside it")
        collection = collection or _collection_for(index_dir, uri)
        client = connect(uri, create=True)
        _check_lengths(rows)
        _ensure_collection(client, collection, dim, kind, hnsw_m, embedder, fresh)
        held = _fingerprints(client, collection)
        build = f"{SCHEMA_VERSION} {embedder} {analyzer_fingerprint()}"
        wanted = {r.chunk_id: r.fingerprint(build) for r in rows}
        stale = [cid for cid in held if cid not in wanted]
        changed = [r for r in rows if held.get(r.chunk_id) != wanted[r.chunk_id]]
        for i in range(0, len(stale), BATCH):
            client.delete(collection, ids=stale[i: i + BATCH])
        for i in range(0, len(changed), BATCH):
            client.upsert(collection, [_entity(r, wanted[r.chunk_id]) for r in changed[i: i + BATCH]])
        client.flush(collection)
        df = {"words": dict(Counter(t for tokens in word_tokens for t in set(tokens)))}
        sent = {"upserted": len(changed), "deleted": len(stale), "kept": len(rows) - len(changed)}
        log.info("milvus %s/%s: %s", uri, collection, sent)
        return cls(client, uri, collection, df, len(rows), sent)

    def save(self, folder: Path) -> None:
        state = {"uri": self.uri, "collection": self.collection, "schema": SCHEMA_VERSION, "chunks": self.n,
                 "last_build": self.sent, "df": self.df}
        (Path(folder) / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "MilvusStore":
        path = Path(folder) / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise BadIndexError(f"{path} is unreadable ({e}); rebuild with --rebuild") from e
        if state.get("schema") != SCHEMA_VERSION:
            raise BadIndexError(f"{path} is from another PolicyKB version; rebuild with --rebuild")
        client = connect(state["uri"])
        if not client.has_collection(state["collection"]):
            raise BadIndexError(f"Milvus at {state['uri']} has no collection {state['collection']}; "
                                f"rebuild with `python -m kb index CORPUS --index {folder} --rebuild`")
        client.load_collection(state["collection"])
        return cls(client, state["uri"], state["collection"], state["df"], state["chunks"], state.get("last_build"))

    @cached_property
    def hnsw(self) -> bool:
        return self.client.describe_index(self.collection, "dense").get("index_type") == "HNSW"

    def close(self) -> None:
        """Let go of Milvus; for a Lite file this stops its engine in this process, so another can open it."""
        self._pool.shutdown()
        self.client.close()
        release(self.uri)

    def idf(self, analyzer: str, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency over chunks, as FaissBM25Store.idf, from the counts kept at build."""
        if analyzer not in self.df:
            raise ValueError(f"the milvus store keeps idf for {', '.join(IDF_ANALYZERS)}, not {analyzer!r}")
        df, n = self.df[analyzer], max(1, self.n)
        return {t: float(np.log((n + 1) / (df.get(t, 0) + 0.5))) for t in tokens}

    def search(self, query: str, qvec: np.ndarray, k: int, filters: SearchFilters = SearchFilters(), *,
               rrf_k: int | None = None) -> dict[str, Ranked]:
        """Each retriever's top k ("words", "chars", "dense"), or with `rrf_k` Milvus' own
        reciprocal-rank fusion of the three ("hybrid")."""
        pymilvus = _pymilvus()
        expr = filter_expression(filters)
        requests = {}
        words, grams = normalize(query), " ".join(char_query_tokens(query))
        if words.strip():
            requests["words"] = ("words_bm25", [words], {})
        if grams:
            requests["chars"] = ("grams_bm25", [grams], {})
        requests["dense"] = ("dense", [qvec.astype(np.float32).tolist()], {"ef": max(64, k)} if self.hnsw else {})
        try:
            if rrf_k is not None:
                reqs = [pymilvus.AnnSearchRequest(data, field, {"params": params}, k, expr=expr or None)
                        for field, data, params in requests.values()]
                result = self.client.hybrid_search(self.collection, reqs, pymilvus.RRFRanker(rrf_k), limit=k,
                                                   output_fields=["content_hash"])
                return {"hybrid": _ranked(result[0])}
            pending = {name: self._pool.submit(self.client.search, self.collection, data, filter=expr, limit=k,
                                               anns_field=field, output_fields=["content_hash"],
                                               search_params={"params": params})
                       for name, (field, data, params) in requests.items()}
            return {name: _ranked(f.result()[0], bm25=name != "dense") for name, f in pending.items()}
        except pymilvus.exceptions.MilvusException as e:
            raise BadIndexError(f"Milvus at {self.uri} failed to search {self.collection}: {e.message}") from e


def _ranked(hits, bm25: bool = False) -> Ranked:
    # Milvus Lite reports a BM25 score as a negative distance, a server as a positive one
    scores = [abs(float(h["distance"])) if bm25 else float(h["distance"]) for h in hits]
    return Ranked([h["chunk_id"] for h in hits], scores, [h["entity"]["content_hash"] for h in hits])


def _collection_for(index_dir: Path, uri: str) -> str:
    """The collection the index at `index_dir` used with this URI before, or a new name for that folder."""
    try:
        state = json.loads((index_dir / STATE_FILE).read_text(encoding="utf-8"))
        if state["uri"] == uri:
            return state["collection"]
    except (OSError, ValueError, KeyError):
        pass
    folder = re.sub(r"\W", "_", index_dir.name, flags=re.ASCII)[:40]
    return f"policykb_{folder}_{hashlib.sha256(str(index_dir).encode()).hexdigest()[:8]}"


def _entity(row: MilvusRow, fingerprint: str) -> dict:
    return {"chunk_id": row.chunk_id, "doc_id": row.doc_id, "doc_number": row.doc_number, "issuer": row.issuer,
            "date": row.date, "content_hash": row.content_hash, "fingerprint": fingerprint, "text": row.text,
            "grams": row.grams, "dense": row.vector.astype(np.float32).tolist()}


def _check_lengths(rows: list[MilvusRow]) -> None:
    for r in rows:
        for name in ("chunk_id", "doc_id", "issuer", "text", "grams"):
            if len(getattr(r, name).encode("utf-8")) > MAX_BYTES:
                raise ConfigError(f"chunk {r.chunk_id}: its {name} is longer than Milvus holds ({MAX_BYTES} bytes); "
                                  f"index with a smaller --chunk-max-chars")


def _fingerprints(client, collection: str) -> dict[str, str]:
    """chunk id -> fingerprint of every row the collection holds."""
    held = {}
    # Milvus Lite has no server timestamps; the iterator warns that it uses the client's, which is right here
    quiet = logging.getLogger("pymilvus.client.iterator.query_iterator")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        it = client.query_iterator(collection, batch_size=1000, output_fields=["fingerprint"])
        while batch := it.next():
            held.update((r["chunk_id"], r["fingerprint"]) for r in batch)
        it.close()
    finally:
        quiet.setLevel(level)
    return held


def _ensure_collection(client, collection: str, dim: int, kind: str, hnsw_m: int, embedder: str,
                       fresh: bool) -> None:
    """Create the collection, or keep the one there when it was made for the same schema and model."""
    lite = client.get_server_version().startswith("milvus_lite")
    identity = f"{DESCRIPTION} v{SCHEMA_VERSION} {embedder} dim={dim}"
    if client.has_collection(collection):
        found = (client.describe_collection(collection).get("properties") or {}).get(IDENTITY, "")
        if not found.startswith(DESCRIPTION):
            raise ConfigError(f"Milvus collection {collection} exists and is not a PolicyKB index; "
                              f"choose another with --milvus-collection")
        if found == identity and not fresh:
            _ensure_dense_index(client, collection, kind, hnsw_m)
            client.load_collection(collection)
            return
        client.drop_collection(collection)
    params = client.prepare_index_params()
    params.add_index("words_bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    params.add_index("grams_bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    _add_dense_index(params, kind, hnsw_m)
    client.create_collection(collection, schema=_schema(dim, lite), index_params=params, consistency_level="Strong",
                             properties={IDENTITY: identity})


def _add_dense_index(params, kind: str, hnsw_m: int) -> None:
    if kind == "hnsw":
        params.add_index("dense", index_type="HNSW", metric_type="IP", params={"M": hnsw_m, "efConstruction": 80})
    else:
        params.add_index("dense", index_type="FLAT", metric_type="IP")


def _ensure_dense_index(client, collection: str, kind: str, hnsw_m: int) -> None:
    """Switch the vector index (exact up to flat_max_vectors, HNSW above) without re-sending the rows."""
    if client.describe_index(collection, "dense").get("index_type") == ("HNSW" if kind == "hnsw" else "FLAT"):
        return
    client.release_collection(collection)
    client.drop_index(collection, "dense")
    params = client.prepare_index_params()
    _add_dense_index(params, kind, hnsw_m)
    client.create_index(collection, params)


def _schema(dim: int, lite: bool):
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, description=DESCRIPTION)
    s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=MAX_BYTES)
    s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_BYTES)
    s.add_field("doc_number", DataType.VARCHAR, max_length=1024)
    s.add_field("issuer", DataType.VARCHAR, max_length=MAX_BYTES)
    s.add_field("date", DataType.VARCHAR, max_length=32)
    s.add_field("content_hash", DataType.VARCHAR, max_length=128)
    s.add_field("fingerprint", DataType.VARCHAR, max_length=64)
    s.add_field("text", DataType.VARCHAR, max_length=MAX_BYTES, enable_analyzer=True, analyzer_params=_words_analyzer())
    s.add_field("grams", DataType.VARCHAR, max_length=MAX_BYTES, enable_analyzer=True,
                analyzer_params=_grams_analyzer(lite))
    s.add_field("words_bm25", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("grams_bm25", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(Function(name="words_bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["words_bm25"]))
    s.add_function(Function(name="grams_bm25", function_type=FunctionType.BM25, input_field_names=["grams"],
                            output_field_names=["grams_bm25"]))
    return s
