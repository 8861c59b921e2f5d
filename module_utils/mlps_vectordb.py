#!/usr/bin/env python3
"""VectorDB benchmark driver (rule book §5): load seeded vectors into a vector database, build its index,
compute the exact ground truth, and run the timed query loop of one rank.

One file on purpose: it is copied to the client hosts and run with the VectorDB venv's Python
(requirements/vectordb.lock); one rank per process, ranks never talk to each other. Engines: Milvus
(URI http://host:19530, pymilvus) and pgvector (URI postgresql://user@host:port/db, psycopg 3); each
client library is imported only when its engine is used.

    probe --engine E --uri URI [--timeout S] [--index I]
    load  --engine E --uri URI --collection NAME --num-vectors N --dimension D --seed S --insert-batch B \
          --index I --metric COSINE --index-params JSON --index-timeout S [--compact] \
          --num-queries 1000 --query-seed 42 --k 10 --out DIR
    query --engine E --uri URI --collection NAME --dimension D --num-queries 1000 --query-seed 42 --k 10 \
          --search-params JSON --mode timed|query_count --runtime S --query-count N --batch-size B \
          --out DIR [--rank R] [--world-size W]

probe prints one JSON object {reachable, server_version, engine, error, index_supported, reason}.
load drops the collection/table of that name first (name it mlps_vdb_...), inserts vectors that are
uniform in [0, 1) then L2-normalised (the same seed always gives the same vectors, made in chunks so the
whole matrix is never held twice), flushes, builds the index under its own deadline (a timed-out build
is dropped so the server stops retrying it), optionally compacts, loads, then - outside every timed
phase - computes the exact top-k with numpy for the query vectors and writes DIR/load.json
(schema mlps-vectordb-load/1) and DIR/ground_truth.json {"k", "ids"}.
query: rank R (--rank, else OMPI_COMM_WORLD_RANK / PMIX_RANK / PMI_RANK, else 0) of W starts at query
index R * (num_queries // W) and cycles through the query vectors; after one untimed warm-up search it
writes DIR/rank_<R>/queries.csv (timestamp,batch_size,batch_time_seconds per batch),
DIR/rank_<R>/result_ids.json (first answer per query index) and DIR/rank_<R>/rank.json.

Progress lines go to stdout at most once a second (and once at the end of each phase / the run):
    <iso time> mlps-vectordb load progress phase=insert elapsed=3.0 rows=20000 total=100000 index_pct=-
    <iso time> mlps-vectordb query progress rank=0 elapsed=12.0 queries=24000 qps=2000.0 errors=0
with `done` in place of `progress` for the last line; module_utils/mlps_dlio_progress.py reads them.

Exit codes: 0 ok, 1 failed (a load that went wrong, or more than 1 % of the search batches failed),
2 bad input (one line on stderr), 3 server unreachable, 4 index build did not finish before --index-timeout.
Stdlib + numpy, Python 3.8 syntax.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

try:
    import numpy as np
except ImportError:  # reported as a one-line error by main()
    np = None

PROG = "mlps_vectordb"
LOAD_SCHEMA = "mlps-vectordb-load/1"
CHUNK_ROWS = 8192                 # generation unit: vector i depends only on (seed, i // CHUNK_ROWS)
MAX_RPC_BYTES = 32 * 2 ** 20      # Milvus rejects large insert messages: split batches under this
PROBE_DEADLINE = 20.0
PROBE_ROWS = 3000                 # above Milvus' 1024-row floor, so the probe index is really built
PROGRESS_EVERY = 1.0
MAX_ERROR_TEXTS = 5
ERROR_SHARE = 0.01
METRICS = ("COSINE", "L2", "IP")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INDEX_TIMEOUT = 0, 1, 2, 3, 4

# Index builds and searches per engine. Defaults follow rule book §5.1 (graph degree / M 64,
# ef_construction 200, search ef 200, clamped to at least k). `ef` names the search knob clamped to k.
INDEXES = {
    "milvus": {
        "HNSW": {"build": {"M": 64, "efConstruction": 200}, "search": {"ef": 200}, "ef": "ef"},
        "IVF_FLAT": {"build": {"nlist": 1024}, "search": {"nprobe": 64}, "ef": None},
        "FLAT": {"build": {}, "search": {}, "ef": None},
        "DISKANN": {"build": {}, "search": {"search_list": 200}, "ef": "search_list"},
    },
    "pgvector": {
        "HNSW": {"build": {"m": 64, "ef_construction": 200}, "search": {"hnsw.ef_search": 200},
                 "ef": "hnsw.ef_search"},
        "IVFFLAT": {"build": {"lists": 1000}, "search": {"ivfflat.probes": 32}, "ef": None},
    },
}
REFUSED = {"milvus": {"AISAQ": "AISAQ is not in Milvus 2.3.5 (it came with later Milvus releases)"}}
# Indexes every server of the engine can build; the others are only known after a probe.
ALWAYS_BUILT = {"milvus": ("HNSW", "IVF_FLAT", "FLAT"), "pgvector": ("HNSW", "IVFFLAT")}
PG_OPS = {"COSINE": ("vector_cosine_ops", "<=>"), "L2": ("vector_l2_ops", "<->"), "IP": ("vector_ip_ops", "<#>")}


class UsageError(Exception):
    """Something the user can fix: one line, exit 2."""


class Unreachable(Exception):
    """The server does not answer: one line, exit 3."""


class IndexTimeout(Exception):
    """The index build did not finish in time: one line, exit 4."""


class Failed(Exception):
    """The run went wrong: one line, exit 1."""


# --- pure helpers ----------------------------------------------------------------------------------
def rank_from_env(env) -> int:
    for name in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"):
        value = env.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def world_from_env(env) -> int:
    for name in ("OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"):
        value = env.get(name)
        if value is not None and value.strip().isdigit() and int(value) > 0:
            return int(value)
    return 1


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError("{} {!r}: not JSON ({}); give an object such as '{{\"M\": 64}}'".format(
            option, text, exc)) from None
    if not isinstance(value, dict):
        raise UsageError("{} {!r}: not a JSON object; give an object such as '{{\"M\": 64}}'".format(option, text))
    return value


def index_spec(engine: str, index: str) -> dict:
    refused = REFUSED.get(engine, {}).get(index)
    if refused:
        raise UsageError("--index {}: {}; use one of {}".format(index, refused, ", ".join(INDEXES[engine])))
    spec = INDEXES[engine].get(index)
    if spec is None:
        raise UsageError("--index {}: not an index of {}; use one of {}".format(
            index, engine, ", ".join(INDEXES[engine])))
    return spec


def search_params(engine: str, index: str, given: dict, k: int) -> dict:
    """The index's default search parameters overlaid with the given ones; the ef-like knob >= k."""
    spec = index_spec(engine, index)
    unknown = sorted(set(given) - set(spec["search"]))
    if unknown:
        raise UsageError("--search-params {}: not a search parameter of {} {}; use {}".format(
            ", ".join(unknown), engine, index, ", ".join(spec["search"]) or "{}"))
    params = dict(spec["search"])
    params.update(given)
    ef = spec["ef"]
    if ef and ef in params:
        if not isinstance(params[ef], int) or isinstance(params[ef], bool):
            raise UsageError("--search-params {}: {!r} is not an integer".format(ef, params[ef]))
        params[ef] = max(params[ef], k)
    return params


def check_uri(engine: str, uri: str) -> tuple:
    """(host, port) of a URI of the engine's form."""
    parsed = urllib.parse.urlsplit(uri)
    want = {"milvus": ("http", "https"), "pgvector": ("postgresql", "postgres")}[engine]
    form = {"milvus": "http://host:19530", "pgvector": "postgresql://user@host:port/db"}[engine]
    try:
        port = parsed.port
    except ValueError:  # out of range or not a number
        port = -1
    if parsed.scheme not in want or not parsed.hostname or port == -1:
        raise UsageError("--uri {}: not a {} URI; give one like {}".format(uri, engine, form))
    return parsed.hostname, port or (19530 if engine == "milvus" else 5432)


def check_reachable(host: str, port: int, timeout: float) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise Unreachable("{}:{} does not answer ({}); start the server or fix --uri".format(
            host, port, exc.strerror or exc)) from None


# --- seeded vectors and exact ground truth --------------------------------------------------------
def _normalised(rows):
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    rows /= norms
    return rows


def chunk_vectors(seed: int, chunk: int, rows: int, dim: int):
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, chunk)))
    return _normalised(rng.random((rows, dim), dtype=np.float32))


def iter_chunks(seed: int, count: int, dim: int):
    """(first id, vectors) per generation chunk: only one chunk is in memory at a time."""
    for chunk in range(math.ceil(count / float(CHUNK_ROWS))):
        start = chunk * CHUNK_ROWS
        yield start, chunk_vectors(seed, chunk, min(CHUNK_ROWS, count - start), dim)


def iter_batches(seed: int, count: int, dim: int, batch: int, clock=None):
    """(first id, vectors) in insert batches of `batch` rows cut from the chunk stream. `clock` (a
    one-item list) accumulates the generation seconds."""
    pending, start, have = [], 0, 0
    chunks = iter_chunks(seed, count, dim)
    while True:
        began = time.perf_counter()
        piece = next(chunks, None)
        if clock is not None:
            clock[0] += time.perf_counter() - began
        if piece is not None:
            pending.append(piece[1])
            have += len(piece[1])
        while have >= batch or (piece is None and have):
            block = pending[0] if len(pending) == 1 else np.concatenate(pending)
            take = min(batch, have)
            yield start, block[:take]
            start += take
            rest = block[take:]
            pending, have = ([rest] if len(rest) else []), len(rest)
        if piece is None:
            return


def query_vectors(query_seed: int, count: int, dim: int):
    rng = np.random.default_rng(np.random.SeedSequence(query_seed, spawn_key=(1,)))
    return _normalised(rng.random((count, dim), dtype=np.float32))


def exact_neighbours(seed: int, count: int, dim: int, queries, k: int) -> list:
    """Exact top-k ids per query by inner product over the regenerated vectors (on unit vectors
    cosine, inner product and L2 rank alike); ties go to the smaller id."""
    k = min(k, count)
    nq = len(queries)
    best_s = np.full((nq, k), -np.inf, dtype=np.float32)
    best_i = np.full((nq, k), -1, dtype=np.int64)
    for start, block in iter_chunks(seed, count, dim):
        scores = queries @ block.T
        ids = np.broadcast_to(np.arange(start, start + len(block), dtype=np.int64), scores.shape)
        cand_s = np.concatenate([best_s, scores], axis=1)
        cand_i = np.concatenate([best_i, ids], axis=1)
        top = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, top, axis=1)
        best_i = np.take_along_axis(cand_i, top, axis=1)
    result = []
    for row_s, row_i in zip(best_s, best_i):
        order = np.lexsort((row_i, -row_s))
        result.append([int(i) for i in row_i[order]])
    return result


class Progress:
    """One stdout line per second at most: `<iso> mlps-vectordb <what> progress k=v ...`."""

    def __init__(self, what: str, stream=None):
        self.what, self.stream = what, stream or sys.stdout
        self.started = time.monotonic()
        self.last = -PROGRESS_EVERY

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def emit(self, fields: dict, done: bool = False, force: bool = False) -> None:
        now = time.monotonic()
        if not (done or force) and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        items = " ".join("{}={}".format(key, value) for key, value in fields.items())
        self.stream.write("{} mlps-vectordb {} {} elapsed={:.1f} {}\n".format(
            datetime.datetime.now().isoformat(), self.what, "done" if done else "progress", self.elapsed(), items))
        self.stream.flush()


def write_json(path: str, data) -> None:
    tmp = "{}.tmp{}".format(path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


# --- engines ---------------------------------------------------------------------------------------
class MilvusEngine:
    """pymilvus 2.3 ORM: one collection {id INT64 primary, vector FLOAT_VECTOR(dim)}."""

    name = "milvus"
    alias = "mlps"

    def __init__(self, uri: str, timeout: float):
        self.host, self.port = check_uri("milvus", uri)
        self.timeout = timeout
        self.collection = None
        self.meta = {}

    def connect(self) -> None:
        check_reachable(self.host, self.port, self.timeout)
        try:  # imported here: the pgvector engine does not need it
            self.pm = importlib.import_module("pymilvus")
            self.index_state = importlib.import_module("pymilvus.client.types").IndexState
        except ImportError:
            raise UsageError("pymilvus is not installed for {}; use the VectorDB venv".format(sys.executable)) from None
        try:
            self.pm.connections.connect(alias=self.alias, host=self.host, port=str(self.port), timeout=self.timeout)
        except Exception as exc:
            raise Unreachable("Milvus at {}:{} does not answer ({})".format(
                self.host, self.port, one_line(exc))) from None

    def version(self) -> str:
        return str(self.pm.utility.get_server_version(using=self.alias))

    def create(self, name: str, dim: int, meta: dict) -> None:
        pm = self.pm
        self.drop(name)
        schema = pm.CollectionSchema([pm.FieldSchema("id", pm.DataType.INT64, is_primary=True, auto_id=False),
                                      pm.FieldSchema("vector", pm.DataType.FLOAT_VECTOR, dim=dim)],
                                     description=json.dumps(meta, sort_keys=True))
        self.collection = pm.Collection(name, schema, using=self.alias)
        self.meta = meta

    def open(self, name: str) -> dict:
        if not self.pm.utility.has_collection(name, using=self.alias):
            raise UsageError("--collection {}: not on this server; run `load` first".format(name))
        self.collection = self.pm.Collection(name, using=self.alias)
        self.collection.load()  # a no-op when `load` left it loaded; needed after a server restart
        try:
            self.meta = json.loads(self.collection.description or "{}")
        except ValueError:
            self.meta = {}
        return self.meta

    def insert(self, first_id: int, vectors) -> None:
        rows = max(1, MAX_RPC_BYTES // max(1, vectors.shape[1] * 4))
        for offset in range(0, len(vectors), rows):
            part = vectors[offset:offset + rows]
            ids = list(range(first_id + offset, first_id + offset + len(part)))
            self.collection.insert([ids, part])

    def flush(self) -> None:
        self.collection.flush()

    def count(self) -> int:
        return int(self.collection.num_entities)

    def build_index(self, index: str, params: dict, metric: str, timeout: float, progress) -> None:
        index_state = self.index_state
        spec = {"index_type": index, "metric_type": metric, "params": params}
        future = self.collection.create_index("vector", spec, _async=True, sync=False)
        future.result()
        handler = self.collection._get_connection()
        deadline = time.monotonic() + timeout
        name = self.collection.name
        while True:
            state, reason = handler.get_index_state(name, "", field_name="vector")
            if state == index_state.Finished:
                progress(100.0)
                return
            if state == index_state.Failed:
                raise Failed("Milvus failed to build the {} index: {}".format(index, reason))
            done = self.pm.utility.index_building_progress(name, using=self.alias)
            total = done.get("total_rows") or 0
            progress(100.0 * done.get("indexed_rows", 0) / total if total else 0.0)
            if time.monotonic() > deadline:
                self.drop_index()
                raise IndexTimeout("the server's {} build did not finish in {:g} s".format(index, timeout))
            time.sleep(0.5)

    def drop_index(self) -> None:
        try:
            self.collection.release()
            self.collection.drop_index()
        except Exception:  # noqa: S110 - best effort: it only stops the server retrying a build
            pass

    def compact(self, timeout: float) -> None:
        self.collection.compact()
        self.collection.wait_for_compaction_completed(timeout=timeout)

    def load(self, timeout: float) -> None:
        self.collection.load(timeout=timeout)

    def drop(self, name: str) -> None:
        if self.pm.utility.has_collection(name, using=self.alias):
            self.pm.utility.drop_collection(name, using=self.alias)

    def prepare_search(self, params: dict, k: int) -> None:
        self.search_param = {"metric_type": self.meta.get("metric", "COSINE"), "params": params}
        self.k = k

    def search(self, vectors) -> list:
        hits = self.collection.search(vectors, "vector", self.search_param, limit=self.k)
        return [list(hit.ids) for hit in hits]


class PgvectorEngine:
    """psycopg 3 + pgvector: one table (id bigint, embedding vector(dim)); metadata in its comment."""

    name = "pgvector"

    def __init__(self, uri: str, timeout: float):
        self.host, self.port = check_uri("pgvector", uri)
        self.uri, self.timeout = uri, timeout
        self.conn = None
        self.table = None
        self.meta = {}

    def _connect(self):
        conn = self.psycopg.connect(self.uri, connect_timeout=max(1, int(self.timeout)), autocommit=True)
        self.register_vector(conn)
        return conn

    def connect(self) -> None:
        check_reachable(self.host, self.port, self.timeout)
        try:  # imported here: the Milvus engine does not need them
            self.psycopg = importlib.import_module("psycopg")
            self.sql = importlib.import_module("psycopg.sql")
            self.register_vector = importlib.import_module("pgvector.psycopg").register_vector
        except ImportError:
            raise UsageError("psycopg/pgvector are not installed for {}; use the VectorDB venv".format(
                sys.executable)) from None
        try:
            self.conn = self._connect()
        except Exception as exc:
            raise Unreachable("PostgreSQL at {}:{} refused us ({})".format(
                self.host, self.port, one_line(exc))) from None

    def _sql(self, text: str):
        sql = self.sql
        return sql.SQL(text).format(table=sql.Identifier(self.table), index=sql.Identifier(self.table + "_idx"))

    def version(self) -> str:
        row = self.conn.execute("SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension "
                                "WHERE extname = 'vector')").fetchone()
        return "PostgreSQL {} vector {}".format(row[0], row[1])

    def create(self, name: str, dim: int, meta: dict) -> None:
        self.table, self.meta = name, meta
        self.conn.execute(self._sql("DROP TABLE IF EXISTS {table}"))
        self.conn.execute(self._sql("CREATE TABLE {table} (id bigint NOT NULL, embedding vector(%d) NOT NULL)"
                                    % int(dim)))
        sql = self.sql
        self.conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(  # utility statement: no bind parameters
            sql.Identifier(name), sql.Literal(json.dumps(meta, sort_keys=True))))

    def open(self, name: str) -> dict:
        self.table = name
        row = self.conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class'), to_regclass(%s) IS NOT NULL",
                                (name, name)).fetchone()
        if not row[1]:
            raise UsageError("--collection {}: no such table on this server; run `load` first".format(name))
        try:
            self.meta = json.loads(row[0] or "{}")
        except ValueError:
            self.meta = {}
        return self.meta

    def insert(self, first_id: int, vectors) -> None:
        with self.conn.cursor() as cur, cur.copy(self._sql(
                "COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)")) as copy:
            copy.set_types(["int8", "vector"])
            for offset, row in enumerate(vectors):
                copy.write_row((first_id + offset, row))

    def flush(self) -> None:
        return None  # autocommit: every COPY is durable when it returns

    def count(self) -> int:
        return int(self.conn.execute(self._sql("SELECT count(*) FROM {table}")).fetchone()[0])

    def build_index(self, index: str, params: dict, metric: str, timeout: float, progress) -> None:
        psycopg, sql = self.psycopg, self.sql
        method = {"HNSW": "hnsw", "IVFFLAT": "ivfflat"}[index]
        options = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(key), sql.Literal(int(value)))
                                     for key, value in sorted(params.items()))
        statement = sql.SQL("CREATE INDEX {index} ON {table} USING {method} (embedding {ops})").format(
            index=sql.Identifier(self.table + "_idx"), table=sql.Identifier(self.table),
            method=sql.SQL(method), ops=sql.SQL(PG_OPS[metric][0]))
        if params:
            statement = statement + sql.SQL(" WITH ({})").format(options)
        builder = self._connect()
        builder.execute("SELECT set_config('statement_timeout', %s, false)", (str(int(timeout * 1000)),))
        backend = builder.info.backend_pid
        outcome = {}

        def run():
            try:
                builder.execute(statement)
            except Exception as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        deadline = time.monotonic() + timeout + 5
        try:
            while worker.is_alive():
                worker.join(0.5)
                row = self.conn.execute("SELECT tuples_done, tuples_total, blocks_done, blocks_total FROM "
                                        "pg_stat_progress_create_index WHERE pid = %s", (backend,)).fetchone()
                if row:
                    done, total = (row[0], row[1]) if row[1] else (row[2], row[3])
                    progress(100.0 * done / total if total else 0.0)
                if time.monotonic() > deadline:  # our own deadline, should statement_timeout not fire
                    self.conn.execute("SELECT pg_cancel_backend(%s)", (backend,))
                    worker.join(10)
                    outcome.setdefault("error", psycopg.errors.QueryCanceled("cancelled by the driver"))
                    break
        finally:
            builder.close()
        error = outcome.get("error")
        if isinstance(error, psycopg.errors.QueryCanceled):
            raise IndexTimeout("the server's {} build did not finish in {:g} s".format(index, timeout))
        if error is not None:
            raise Failed("PostgreSQL failed to build the {} index: {}".format(index, one_line(error)))
        progress(100.0)

    def drop_index(self) -> None:
        self.conn.execute(self._sql("DROP INDEX IF EXISTS {index}"))

    def compact(self, timeout: float) -> None:
        self.conn.execute(self._sql("VACUUM ANALYZE {table}"))

    def load(self, timeout: float) -> None:
        return None  # PostgreSQL reads through its buffer cache: nothing to load

    def drop(self, name: str) -> None:
        self.table = name
        self.conn.execute(self._sql("DROP TABLE IF EXISTS {table}"))

    def prepare_search(self, params: dict, k: int) -> None:
        for key, value in params.items():  # names checked by search_params(): the index's own settings
            self.conn.execute("SELECT set_config(%s, %s, false)", (key, str(int(value))))
        operator = PG_OPS[self.meta.get("metric", "COSINE")][1]
        self.query_sql = self.sql.SQL("SELECT id FROM {} ORDER BY embedding {} %s LIMIT {}").format(
            self.sql.Identifier(self.table), self.sql.SQL(operator), self.sql.Literal(int(k))).as_string(self.conn)
        # rendered once: composing the statement again on every call costs more than the client's own work
        self.cursor = self.conn.cursor(binary=True)

    def search(self, vectors) -> list:
        answers = []
        for vector in vectors:
            self.cursor.execute(self.query_sql, (vector,), prepare=True)
            answers.append([row[0] for row in self.cursor.fetchall()])
        return answers


ENGINES = {"milvus": MilvusEngine, "pgvector": PgvectorEngine}


def one_line(exc) -> str:
    text = " ".join(str(exc).split())
    return (text or type(exc).__name__)[:300]


# --- probe -----------------------------------------------------------------------------------------
def probe(args) -> tuple:
    result = {"engine": args.engine, "reachable": False, "server_version": None, "error": None,
              "index_supported": {}, "reason": None}
    supported = {name: (True if name in ALWAYS_BUILT[args.engine] else None) for name in INDEXES[args.engine]}
    supported.update({name: False for name in REFUSED.get(args.engine, {})})
    result["index_supported"] = supported
    reasons = ["{}: {}".format(name, text) for name, text in REFUSED.get(args.engine, {}).items()]
    if args.index is not None and args.index not in supported:
        raise UsageError("--index {}: not an index of {}; use one of {}".format(
            args.index, args.engine, ", ".join(INDEXES[args.engine])))
    engine = ENGINES[args.engine](args.uri, args.timeout)
    try:
        engine.connect()
        result["server_version"] = engine.version()
    except Unreachable as exc:
        result["error"] = str(exc)
        result["index_supported"] = {name: (False if ok is False else None) for name, ok in supported.items()}
        return result, EXIT_UNREACHABLE
    result["reachable"] = True
    if args.index is not None and args.index not in REFUSED.get(args.engine, {}):
        ok, why = probe_index(engine, args.index, min(PROBE_DEADLINE, args.timeout))
        supported[args.index] = ok
        if why:
            reasons.append("{}: {}".format(args.index, why))
    result["reason"] = "; ".join(reasons) or None
    return result, EXIT_OK


def probe_index(engine, index: str, deadline: float) -> tuple:
    """Build `index` on a scratch collection of PROBE_ROWS tiny vectors, then drop it."""
    name = "mlps_vdb_probe_{}".format(os.getpid())
    spec = INDEXES[engine.name][index]
    try:
        engine.create(name, 8, {"index": index, "metric": "L2", "probe": True})
        for start, block in iter_batches(1, PROBE_ROWS, 8, PROBE_ROWS):
            engine.insert(start, block)
        engine.flush()
        build = dict(spec["build"])
        if engine.name == "pgvector" and index == "IVFFLAT":
            build["lists"] = 10
        engine.build_index(index, build, "L2", deadline, lambda pct: None)
        return True, None
    except IndexTimeout:
        hint = " (queryNode.enableDisk off?)" if index == "DISKANN" else ""
        return False, "the server's {} build did not finish in {:g} s{}".format(index, deadline, hint)
    except Failed as exc:
        return False, str(exc)
    finally:
        with contextlib.suppress(Exception):  # a scratch collection left behind is named for its process
            engine.drop(name)


# --- load ------------------------------------------------------------------------------------------
def check_load_args(args) -> tuple:
    if not _NAME.match(args.collection):
        raise UsageError("--collection {!r}: use letters, digits and _ (at most 63), such as mlps_vdb_run1".format(
            args.collection))
    for option, value in (("--num-vectors", args.num_vectors), ("--dimension", args.dimension),
                          ("--insert-batch", args.insert_batch), ("--num-queries", args.num_queries),
                          ("--k", args.k)):
        if value <= 0:
            raise UsageError("{} {}: must be a positive integer".format(option, value))
    if args.index_timeout <= 0:
        raise UsageError("--index-timeout {}: must be > 0 seconds".format(args.index_timeout))
    if args.metric not in METRICS:
        raise UsageError("--metric {}: use one of {}".format(args.metric, ", ".join(METRICS)))
    spec = index_spec(args.engine, args.index)
    given = parse_json_object(args.index_params, "--index-params")
    unknown = sorted(set(given) - set(spec["build"]))
    if unknown:
        raise UsageError("--index-params {}: not a build parameter of {} {}; use {}".format(
            ", ".join(unknown), args.engine, args.index, ", ".join(spec["build"]) or "{}"))
    params = dict(spec["build"])
    params.update(given)
    for key, value in params.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise UsageError("--index-params {}: {!r} is not a positive integer".format(key, value))
    return params


class LoadRun:
    """One `load`: each phase timed on its own, progress lines between them."""

    def __init__(self, args, engine, params: dict):
        self.args, self.engine, self.params = args, engine, params
        self.report = Progress("load")
        self.state = {"phase": "insert", "rows": 0, "total": args.num_vectors, "index_pct": "-"}
        self.timings = {"generate_s": 0.0, "insert_s": 0.0, "flush_s": 0.0, "index_s": 0.0, "compact_s": None,
                        "load_s": 0.0, "ground_truth_s": 0.0}

    def phase(self, name: str) -> None:
        self.state["phase"] = name
        self.report.emit(self.state, force=True)

    def timed(self, key: str, action):
        began = time.perf_counter()
        result = action()
        self.timings[key] = time.perf_counter() - began
        return result

    def insert(self) -> int:
        args, clock = self.args, [0.0]
        began = time.perf_counter()
        for start, block in iter_batches(args.seed, args.num_vectors, args.dimension, args.insert_batch, clock):
            self.engine.insert(start, block)
            self.state["rows"] = start + len(block)
            self.report.emit(self.state)
        self.timings["generate_s"] = clock[0]
        self.timings["insert_s"] = time.perf_counter() - began - clock[0]
        self.phase("flush")
        return self.timed("flush_s", lambda: (self.engine.flush(), self.engine.count())[1])

    def on_index(self, pct: float) -> None:
        self.state["index_pct"] = "{:.1f}".format(pct)
        self.report.emit(self.state)

    def build(self) -> None:
        args = self.args
        self.phase("index")
        try:
            self.timed("index_s", lambda: self.engine.build_index(args.index, self.params, args.metric,
                                                                   args.index_timeout, self.on_index))
        except IndexTimeout as exc:
            raise IndexTimeout("--index {} with --index-timeout {:g}: {}".format(
                args.index, args.index_timeout, exc)) from None
        if args.compact:
            self.phase("compact")
            self.timed("compact_s", lambda: self.engine.compact(args.index_timeout))
        self.phase("load")
        self.timed("load_s", lambda: self.engine.load(args.index_timeout))

    def ground_truth(self) -> list:
        args = self.args
        self.phase("ground_truth")
        return self.timed("ground_truth_s", lambda: exact_neighbours(
            args.seed, args.num_vectors, args.dimension,
            query_vectors(args.query_seed, args.num_queries, args.dimension), args.k))


def load(args) -> int:
    params = check_load_args(args)
    os.makedirs(args.out, exist_ok=True)
    started = now_iso()
    engine = ENGINES[args.engine](args.uri, args.connect_timeout)
    engine.connect()
    version = engine.version()
    meta = {"index": args.index, "metric": args.metric, "dimension": args.dimension,
            "num_vectors": args.num_vectors, "seed": args.seed}
    engine.create(args.collection, args.dimension, meta)
    run = LoadRun(args, engine, params)
    inserted = run.insert()
    if inserted != args.num_vectors:
        raise Failed("the server holds {} of the {} inserted vectors after flush".format(inserted, args.num_vectors))
    run.build()
    truth = run.ground_truth()  # outside every timed phase
    write_json(os.path.join(args.out, "ground_truth.json"), {"k": args.k, "ids": truth})
    record = {
        "schema": LOAD_SCHEMA, "engine": args.engine, "server_version": version, "collection": args.collection,
        "num_vectors": args.num_vectors, "dimension": args.dimension, "inserted_vectors": inserted,
        "index_type": args.index, "index_params": params, "metric_type": args.metric, "compacted": args.compact,
        "timings": {key: (round(value, 6) if value is not None else None) for key, value in run.timings.items()},
        "ground_truth": {"method": "numpy-exact", "k": args.k, "num_queries": args.num_queries, "coverage": 1.0,
                         "total_vectors": args.num_vectors, "copied_vectors": args.num_vectors},
        "seed": args.seed, "query_seed": args.query_seed, "started": started, "ended": now_iso(),
    }
    write_json(os.path.join(args.out, "load.json"), record)
    run.state["phase"] = "done"
    run.report.emit(run.state, done=True)
    return EXIT_OK


# --- query -----------------------------------------------------------------------------------------
def check_query_args(args) -> None:
    if not _NAME.match(args.collection):
        raise UsageError("--collection {!r}: use letters, digits and _ (at most 63)".format(args.collection))
    for option, value in (("--dimension", args.dimension), ("--num-queries", args.num_queries), ("--k", args.k),
                          ("--batch-size", args.batch_size)):
        if value <= 0:
            raise UsageError("{} {}: must be a positive integer".format(option, value))
    if args.mode == "timed" and not (args.runtime and args.runtime > 0):
        raise UsageError("--mode timed needs --runtime S > 0")
    if args.mode == "query_count" and not (args.query_count and args.query_count > 0):
        raise UsageError("--mode query_count needs --query-count N > 0")


class QueryLoop:
    """The timed loop of one rank: a batch of query vectors per search() call, cycling from `position`."""

    def __init__(self, args, engine, queries, position: int, rank: int):
        self.args, self.engine, self.queries = args, engine, queries
        self.position, self.rank = position, rank
        self.first_answers, self.error_texts = {}, []
        self.errors = self.done = self.batches = self.attempted = 0
        self.elapsed = 0.0
        self.report = Progress("query")

    def next_size(self, loop_start: float) -> int:
        args = self.args
        if args.mode == "timed":
            return args.batch_size if time.perf_counter() - loop_start < args.runtime else 0
        return max(0, min(args.batch_size, args.query_count - self.attempted))

    def figures(self) -> dict:
        qps = self.done / self.elapsed if self.elapsed > 0 else 0.0
        return {"rank": self.rank, "queries": self.done, "qps": "{:.1f}".format(qps), "errors": self.errors}

    def one_batch(self, size: int, csv) -> None:
        nq = self.args.num_queries
        picks = [(self.position + j) % nq for j in range(size)]
        batch = self.queries[picks]
        stamp = time.time()
        began = time.perf_counter()
        try:
            answers = self.engine.search(batch)
        except Exception as exc:
            self.errors += 1
            if len(self.error_texts) < MAX_ERROR_TEXTS:
                self.error_texts.append(one_line(exc))
                print("{}: rank {}: search failed: {}".format(PROG, self.rank, one_line(exc)), file=sys.stderr)
            time.sleep(0.05)  # a server that is down should not turn this loop into a busy spin
            answers = None
        took = time.perf_counter() - began
        self.attempted += size
        self.position = (self.position + size) % nq
        if answers is None:
            return
        csv.write("{:.6f},{},{:.9f}\n".format(stamp, size, took))
        self.batches += 1
        self.done += size
        for pick, ids in zip(picks, answers):
            if pick not in self.first_answers:
                self.first_answers[pick] = [int(i) for i in ids]

    def run(self, csv_path: str) -> None:
        with open(csv_path, "w", encoding="utf-8") as csv:
            csv.write("timestamp,batch_size,batch_time_seconds\n")
            loop_start = time.perf_counter()
            size = self.next_size(loop_start)
            while size:
                self.one_batch(size, csv)
                self.elapsed = time.perf_counter() - loop_start
                self.report.emit(self.figures())
                size = self.next_size(loop_start)
            self.elapsed = time.perf_counter() - loop_start
        self.report.emit(self.figures(), done=True)


def open_for_query(args, engine) -> tuple:
    """(index name, search parameters) of a collection `load` made."""
    meta = engine.open(args.collection)
    index = meta.get("index")
    if index not in INDEXES[args.engine]:
        raise UsageError("--collection {}: not loaded by this driver (no index record); run `load` first".format(
            args.collection))
    if meta.get("dimension") not in (None, args.dimension):
        raise UsageError("--dimension {}: the collection holds {}-d vectors".format(args.dimension, meta["dimension"]))
    params = search_params(args.engine, index, parse_json_object(args.search_params, "--search-params"), args.k)
    return index, params


def query(args) -> int:
    check_query_args(args)
    rank = args.rank if args.rank is not None else rank_from_env(os.environ)
    world = args.world_size or world_from_env(os.environ)
    if rank < 0 or rank >= world:
        raise UsageError("--rank {}: must be below the world size {} (--world-size)".format(rank, world))
    folder = os.path.join(args.out, "rank_{}".format(rank))
    os.makedirs(folder, exist_ok=True)
    engine = ENGINES[args.engine](args.uri, args.connect_timeout)
    engine.connect()
    index, params = open_for_query(args, engine)
    engine.prepare_search(params, args.k)
    queries = query_vectors(args.query_seed, args.num_queries, args.dimension)
    position = (rank * (args.num_queries // world)) % args.num_queries
    engine.search(queries[position:position + 1])  # warm-up, untimed
    started = now_iso()
    loop = QueryLoop(args, engine, queries, position, rank)
    loop.run(os.path.join(folder, "queries.csv"))
    write_json(os.path.join(folder, "result_ids.json"),
               {"k": args.k, "ids": {str(key): value for key, value in sorted(loop.first_answers.items())}})
    record = {"rank": rank, "world_size": world, "host": socket.gethostname(), "pid": os.getpid(),
              "started": started, "ended": now_iso(), "queries": loop.done, "batches": loop.batches,
              "errors": loop.errors, "error_texts": loop.error_texts, "engine": args.engine,
              "collection": args.collection, "index_type": index, "search_params": params, "mode": args.mode,
              "k": args.k, "batch_size": args.batch_size, "loop_seconds": round(loop.elapsed, 6)}
    write_json(os.path.join(folder, "rank.json"), record)
    total = loop.batches + loop.errors
    if total and loop.errors > ERROR_SHARE * total:
        print("{}: rank {}: {} of {} search batches failed (more than 1 %); first: {}".format(
            PROG, rank, loop.errors, total, loop.error_texts[0]), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# --- CLI -------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    parser = _Parser(prog=PROG, description="VectorDB benchmark driver")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p):
        p.add_argument("--engine", required=True, choices=sorted(ENGINES))
        p.add_argument("--uri", required=True)

    probe_p = sub.add_parser("probe")
    common(probe_p)
    probe_p.add_argument("--timeout", type=float, default=30.0)
    probe_p.add_argument("--index")
    load_p = sub.add_parser("load")
    common(load_p)
    load_p.add_argument("--collection", required=True)
    load_p.add_argument("--num-vectors", type=int, required=True)
    load_p.add_argument("--dimension", type=int, required=True)
    load_p.add_argument("--seed", type=int, required=True)
    load_p.add_argument("--insert-batch", type=int, default=1000)
    load_p.add_argument("--index", required=True)
    load_p.add_argument("--metric", default="COSINE")
    load_p.add_argument("--index-params", default="{}")
    load_p.add_argument("--index-timeout", type=float, required=True)
    load_p.add_argument("--compact", action="store_true")
    load_p.add_argument("--num-queries", type=int, default=1000)
    load_p.add_argument("--query-seed", type=int, default=42)
    load_p.add_argument("--k", type=int, default=10)
    load_p.add_argument("--out", required=True)
    load_p.add_argument("--connect-timeout", type=float, default=30.0)
    query_p = sub.add_parser("query")
    common(query_p)
    query_p.add_argument("--collection", required=True)
    query_p.add_argument("--dimension", type=int, required=True)
    query_p.add_argument("--num-queries", type=int, default=1000)
    query_p.add_argument("--query-seed", type=int, default=42)
    query_p.add_argument("--k", type=int, default=10)
    query_p.add_argument("--search-params", default="{}")
    query_p.add_argument("--mode", choices=("timed", "query_count"), default="timed")
    query_p.add_argument("--runtime", type=float)
    query_p.add_argument("--query-count", type=int)
    query_p.add_argument("--batch-size", type=int, default=1)
    query_p.add_argument("--out", required=True)
    query_p.add_argument("--rank", type=int)
    query_p.add_argument("--world-size", type=int)
    query_p.add_argument("--connect-timeout", type=float, default=30.0)
    return parser.parse_args(argv)


EXIT_FOR = ((UsageError, EXIT_USAGE), (Unreachable, EXIT_UNREACHABLE), (IndexTimeout, EXIT_INDEX_TIMEOUT),
            (Failed, EXIT_FAILED))


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        if np is None:
            raise UsageError("numpy is not installed for {}; use the VectorDB venv".format(sys.executable))
        if args.command == "probe":
            result, code = probe(args)
            print(json.dumps(result, sort_keys=True))
            return code
        return load(args) if args.command == "load" else query(args)
    except Exception as exc:
        for kind, code in EXIT_FOR:
            if isinstance(exc, kind):
                print("{}: error: {}".format(PROG, exc), file=sys.stderr)
                return code
        print("{}: error: {}: {}".format(PROG, type(exc).__name__, one_line(exc)), file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
