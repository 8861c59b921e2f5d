"""The VectorDB driver's query loop beside a minimal client loop, in this one process against the same running
server and data (target: driver QPS >= 0.9 x minimal), with both loops' recall@10, for embedded Milvus HNSW and
PostgreSQL+pgvector HNSW.

Per engine: start the server with module_utils/mlps_vectordb_server.py (start seconds, RSS of its processes),
`load` VECTORS x DIM seeded vectors with the driver's CLI (HNSW M/m 16, ef_construction 200: the index the
measured figures in the design notes used), then alternate ROUNDS times: the driver's QueryLoop (batch 1, one
rank, as `query --mode timed` runs it) and a minimal loop (the bare client call, one query vector per call, no
bookkeeping), both at search ef 200, for SECONDS each. QPS = queries / loop seconds, the median over the rounds
(the machine may be busy: alternating short rounds shares the noise out); client CPU microseconds per query
(getrusage of this process) shows the driver's own overhead whatever the load. recall@10 of the first answer per
query against the load's exact ground truth. Then stop the server (stop seconds, ports free).

Needs the VectorDB venv (requirements/vectordb.lock): <venv>/bin/python benchmarks/bench_vectordb.py
    [FOLDER] [SECONDS] [VECTORS] [DIM] [ENGINES]   (defaults /var/tmp/mlps-bench-vdb, 5, 20000, 128,
    milvus,pgvector)
FOLDER must be enterable by every user (PostgreSQL runs as an unprivileged user under root).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "module_utils"))  # the driver is a standalone script: import it by path

import mlps_vectordb as vdb  # noqa: E402
import mlps_vectordb_server as srv  # noqa: E402

TARGET = 0.9
K = 10
NUM_QUERIES = 1000
SEARCH_EF = 200                   # rule book §5.1's default search_ef
ROUNDS = 4
BUILD = {"milvus": {"M": 16, "efConstruction": 200}, "pgvector": {"m": 16, "ef_construction": 200}}
EF_KEY = {"milvus": "ef", "pgvector": "hnsw.ef_search"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(state: dict) -> float:
    total = 0
    for pid in srv.family(state["pid"], state["pgid"]):
        try:
            with open(f"/proc/{pid}/status") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
        except OSError:
            continue
    return total / 1024


def script(name: str, *args) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "module_utils" / name), *map(str, args)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{name} {args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def driver_loop(engine, queries, seconds: float, folder: Path) -> tuple[float, dict, float, float]:
    args = vdb.parse_args(["query", "--engine", engine.name, "--uri", "http://x", "--collection", "c",
                           "--dimension", str(queries.shape[1]), "--num-queries", str(len(queries)), "--runtime",
                           str(seconds), "--out", str(folder)])
    loop = vdb.QueryLoop(args, engine, queries, 0, 0)
    loop.report.stream = open(os.devnull, "w")  # noqa: SIM115 - closed below
    cpu = cpu_seconds()
    try:
        loop.run(str(folder / "queries.csv"))
    finally:
        loop.report.stream.close()
    cpu = (cpu_seconds() - cpu) / max(1, loop.done)
    # what the loop spent outside the client call: the driver's own cost, free of the server's noise
    with open(folder / "queries.csv", encoding="utf-8") as handle:
        searching = sum(float(row.split(",")[2]) for row in list(handle)[1:])
    own = (loop.elapsed - searching) / max(1, loop.done)
    return loop.done / loop.elapsed, loop.first_answers, cpu, own


def minimal_loop(search, queries, seconds: float) -> tuple[float, dict, float]:
    answers, done, start, cpu = {}, 0, time.perf_counter(), cpu_seconds()
    while time.perf_counter() - start < seconds:
        index = done % len(queries)
        ids = search(queries[index])
        answers.setdefault(index, ids)
        done += 1
    return done / (time.perf_counter() - start), answers, (cpu_seconds() - cpu) / max(1, done)


def minimal_search(engine_name: str, uri: str, collection: str):
    """The bare client call for one query vector, set up the way its library's docs show."""
    if engine_name == "milvus":
        from pymilvus import Collection, connections  # noqa: PLC0415 - this venv's client, loaded per engine
        host, port = vdb.check_uri("milvus", uri)
        connections.connect(alias="plain", host=host, port=str(port))
        handle = Collection(collection, using="plain")
        param = {"metric_type": "COSINE", "params": {"ef": SEARCH_EF}}
        return lambda vector: list(handle.search([vector], "vector", param, limit=K)[0].ids)
    import psycopg  # noqa: PLC0415
    from pgvector.psycopg import register_vector  # noqa: PLC0415
    conn = psycopg.connect(uri, autocommit=True)
    register_vector(conn)
    conn.execute(f"SET hnsw.ef_search = {SEARCH_EF}")
    cursor = conn.cursor(binary=True)
    sql = f"SELECT id FROM {collection} ORDER BY embedding <=> %s LIMIT {K}"  # noqa: S608 - our own constant name

    def search(vector):
        cursor.execute(sql, (vector,), prepare=True)
        return [row[0] for row in cursor.fetchall()]
    return search


def alternate(engine, plain, queries, seconds: float, folder: Path) -> dict:
    """ROUNDS of the driver's loop then the minimal one: each figure's list over the rounds, the first answers."""
    rounds = {key: [] for key in ("driver_qps", "driver_cpu", "driver_own", "plain_qps", "plain_cpu")}
    rounds.update(driver_answers={}, plain_answers={})
    for _round in range(ROUNDS):
        qps, answers, cpu, own = driver_loop(engine, queries, seconds, folder)
        rounds["driver_qps"].append(qps)
        rounds["driver_cpu"].append(cpu)
        rounds["driver_own"].append(own)
        rounds["driver_answers"] = rounds["driver_answers"] or answers
        qps, answers, cpu = minimal_loop(plain, queries, seconds)
        rounds["plain_qps"].append(qps)
        rounds["plain_cpu"].append(cpu)
        rounds["plain_answers"] = rounds["plain_answers"] or answers
    return rounds


def recall(answers: dict, truth: list) -> float:
    hits = sum(len(set(ids) & set(truth[index][:K])) for index, ids in answers.items())
    return hits / (K * len(answers)) if answers else 0.0


def bench(engine_name: str, folder: Path, seconds: float, vectors: int, dim: int) -> None:
    port = free_port()
    extra = ["--health-port", free_port()] if engine_name == "milvus" else []
    state_file = folder / f"{engine_name}.json"
    began = time.perf_counter()
    state = script("mlps_vectordb_server.py", "start", "--engine", engine_name, "--data", folder / engine_name,
                   "--port", port, "--state", state_file, "--log", folder / f"{engine_name}.log", "--timeout", 180,
                   *extra)
    start_s = time.perf_counter() - began
    rss_idle = rss_mib(state)
    collection = f"mlps_vdb_bench_{engine_name}"
    try:
        load_dir = folder / f"{engine_name}-load"
        proc = subprocess.run([sys.executable, str(ROOT / "module_utils" / "mlps_vectordb.py"), "load", "--engine",
                               engine_name, "--uri", state["uri"], "--collection", collection, "--num-vectors",
                               str(vectors), "--dimension", str(dim), "--seed", "1", "--insert-batch", "2000",
                               "--index", "HNSW", "--index-params", json.dumps(BUILD[engine_name]),
                               "--index-timeout", "900", "--num-queries", str(NUM_QUERIES), "--out", str(load_dir)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"load failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
        loaded = json.loads((load_dir / "load.json").read_text())
        truth = json.loads((load_dir / "ground_truth.json").read_text())["ids"]
        rss_loaded = rss_mib(state)
        engine = vdb.ENGINES[engine_name](state["uri"], 30)
        engine.connect()
        engine.open(collection)
        engine.prepare_search({EF_KEY[engine_name]: SEARCH_EF}, K)
        plain = minimal_search(engine_name, state["uri"], collection)
        queries = vdb.query_vectors(42, NUM_QUERIES, dim)
        engine.search(queries[:1])
        plain(queries[0])  # both warmed up
        rounds = alternate(engine, plain, queries, seconds, folder)
        rss_peak = rss_mib(state)
    finally:
        began = time.perf_counter()
        stopped = script("mlps_vectordb_server.py", "stop", "--state", state_file, "--timeout", 30)
        stop_s = time.perf_counter() - began
    timings = loaded["timings"]
    driver_qps, plain_qps, driver_own = rounds["driver_qps"], rounds["plain_qps"], rounds["driver_own"]
    drv, pln = statistics.median(driver_qps), statistics.median(plain_qps)
    ratio = drv / pln if pln else 0.0
    print(f"{engine_name:9} {loaded['server_version']}; {vectors} x {dim} HNSW {BUILD[engine_name]}, search ef "
          f"{SEARCH_EF}, k {K}, {seconds:g} s per loop, load average {os.getloadavg()[0]:.1f}")
    print(f"  server    start {start_s:.1f} s, stop {stop_s:.1f} s (forced {stopped.get('forced')}, ports free "
          f"{stopped.get('ports_free')}); RSS idle {rss_idle:.0f} MiB, loaded {rss_loaded:.0f} MiB, after queries "
          f"{rss_peak:.0f} MiB")
    print(f"  load      insert {timings['insert_s']:.2f} s, flush {timings['flush_s']:.2f} s, index "
          f"{timings['index_s']:.1f} s, load {timings['load_s']:.2f} s, ground truth {timings['ground_truth_s']:.2f} s")
    print(f"  QPS       driver {drv:7.1f} ({', '.join(f'{q:.0f}' for q in driver_qps)})   minimal {pln:7.1f} "
          f"({', '.join(f'{q:.0f}' for q in plain_qps)})   ratio {ratio:.2f} "
          f"({'meets' if ratio >= TARGET else 'BELOW'} the {TARGET} target)")
    print(f"  client CPU per query  driver {statistics.median(rounds['driver_cpu']) * 1e6:.0f} us   minimal "
          f"{statistics.median(rounds['plain_cpu']) * 1e6:.0f} us")
    own = statistics.median(driver_own)
    print(f"  driver's own time per query (loop time outside the client call) {own * 1e6:.0f} us = "
          f"{own * drv * 100:.1f}% of its loop (the QPS ratio's noise is the server's and the machine's)")
    print(f"  recall@10 driver {recall(rounds['driver_answers'], truth):.4f}   minimal "
          f"{recall(rounds['plain_answers'], truth):.4f}")


def main() -> None:
    if vdb.np is None:
        sys.exit(f"numpy is missing in {sys.executable}; run this with the VectorDB venv's Python")
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/var/tmp/mlps-bench-vdb")
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    vectors = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    dim = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    try:
        for engine_name in sys.argv[5].split(",") if len(sys.argv) > 5 else ("milvus", "pgvector"):
            bench(engine_name, folder, seconds, vectors, dim)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
