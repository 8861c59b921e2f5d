#!/usr/bin/env python3
"""Native KV-cache engine: one rank of the MLPerf Storage KV-cache benchmark (rule book §6).

One file on purpose: it is copied to every client and each rank runs it as it is under mpirun (no
package, no Ansible, no mpi4py: ranks never talk to each other), so everything a rank needs lives here.

It reproduces the storage I/O pattern of MLCommons kv-cache.py for one rank: simulated users (chatbot,
coding, document) send requests open loop into a priority queue; worker threads serve them. A request
reloads its conversation's earlier turns, writes its prefill KV entry (one `.npy` file per entry,
`np.save` + fsync) and reads the entry back during decode (page cache dropped first, then `np.load`)
once plus once per 32 generated tokens. Entries live in a GPU -> CPU -> storage tier chain with LRU
demotion; the storage tier deletes its LRU files when full.

    mpirun -np N python mlps_kvcache.py --model llama3.1-8b --num-users 200 --duration 300 \
        --gpu-mem-gb 0 --cpu-mem-gb 0 --max-concurrent-allocs 16 --generation-mode none --seed 42 \
        --cache-dir DIR --results-dir OUT [--storage-capacity-gb X] [--size-scale F] \
        [--progress-log FILE] [--label TEXT] [--max-requests N]

Each rank (OMPI_COMM_WORLD_RANK, else PMIX_RANK, else PMI_RANK, else 0) uses seed + rank, caches under
DIR/rank_<N>/ and writes OUT/rank_<N>/kvcache_results_<YYYYMMDD_HHMMSS>.json (local start time), with
kv-cache.py's counters, sample arrays and `summary{}` plus `"engine": "mlps-native-kvcache"`.
`--size-scale F` shrinks every entry (and the GPU/CPU tier sizes, so the tier mix stays that of the
full-size run) by F; the storage capacity is a real limit and is not scaled. Rank 0 appends progress
lines to --progress-log about once a second:
    <iso time> mlps-kvcache progress label="<label>" elapsed=<s> duration=<s> requests=<n> read_bytes=<n> \
        write_bytes=<n>
    <iso time> mlps-kvcache done label="<label>" elapsed=<s> requests=<n> read_bytes=<n> write_bytes=<n>
(read/write bytes are the storage tier's). Bad input: one line on stderr, exit 2.

Pure stdlib + numpy, Python 3.8 syntax (it runs on the clients' venv Python).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import hashlib
import heapq
import itertools
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from array import array

try:
    import numpy as np
except ImportError:  # reported as a one-line error by main(); the pure helpers work without it
    np = None

ENGINE = "mlps-native-kvcache"
ENGINE_VERSION = 1
PROG = "mlps_kvcache"
GIB = 2 ** 30
MIB = 2 ** 20
BLOCK = 4096                     # content unit: no two 4 KiB blocks of any entry are alike
NOISE_MAX = 256 * MIB
# KV bytes per token = layers x kv_heads x head_dim x 2 (K and V) x 2 bytes (fp16)
BYTES_PER_TOKEN = {
    "tiny-1b": 24576,
    "mistral-7b": 131072,
    "llama2-7b": 524288,
    "llama3.1-8b": 131072,
    "llama3.1-70b-instruct": 327680,
}
# user type: context tokens, generated tokens, think time (s); each drawn uniformly per user
USER_TYPES = (
    ("chatbot", (512, 4096), (50, 200), (0.1, 0.5)),
    ("coding", (4096, 25000), (100, 500), (0.2, 1.0)),
    ("document", (4096, 16384), (200, 800), (0.3, 1.5)),
)
QOS_PRIORITY = {"interactive": 3, "responsive": 2, "batch": 1}
GENERATION_SECONDS_PER_TOKEN = {"none": 0.0, "fast": 0.002, "realistic": 0.030}
DECODE_TOKENS_PER_READ = 32
PREFIX_LOOKUP_P = 0.2
CONVERSATION_END_P = 0.2
MAX_TURNS = 10                   # this engine's turn cap per conversation
MAX_CONVERSATIONS = 1000
MAX_WORKERS = 500
FILL_LIMIT = 0.8                 # GPU and CPU tiers fill to 80 %
SKIP_ABOVE = 0.95                # an entry above 95 % of a tier never goes there
ALWAYS_BELOW = 0.05              # a tier under 5 % full takes any entry it may hold
STORAGE_SHARE_OF_FREE = 0.95
PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9), ("p9999", 99.99))
TIER_NAMES = ("gpu", "cpu", "storage")
# storage health: informational latency targets (ms) and the hit-rate floor
HEALTH_TARGETS = (("storage_write_device_p95_ms", 500.0), ("storage_read_device_p95_ms", 200.0),
                  ("cpu_read_p95_ms", 150.0))
HEALTH_MIN_HIT_RATE = 0.30


class UsageError(Exception):
    """Something the user can fix: printed on one line, exit 2."""


# --- pure helpers ----------------------------------------------------------------------------------
def rank_from_env(env) -> int:
    for name in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"):
        value = env.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def entry_bytes(tokens: int, bytes_per_token: int, scale: float = 1.0) -> int:
    """Bytes of one KV entry: tokens x bytes/token x scale, whole fp16 values, at least one."""
    return max(2, int(tokens * bytes_per_token * scale) // 2 * 2)


def percentile(ordered, q: float) -> float:
    """numpy's default ("linear") percentile of an ascending sequence; 0 for an empty one."""
    if not ordered:
        return 0.0
    h = (len(ordered) - 1) * q / 100.0
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def latency_ms(samples) -> dict:
    """{mean, p50, p95, p99, p999, p9999} in ms of samples in seconds (zeros when there are none)."""
    ordered = sorted(samples)
    out = {"mean": math.fsum(ordered) / len(ordered) * 1000.0 if ordered else 0.0}
    for name, q in PERCENTILES:
        out[name] = percentile(ordered, q) * 1000.0
    return out


def key_hash(key: str) -> int:
    """A stable 64-bit number per key (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


# --- tiers (pure bookkeeping; the engine does the I/O the moves describe) --------------------------
class Entry:
    __slots__ = ("accesses", "data", "key", "nbytes", "pins", "ready", "tier")

    def __init__(self, key: str, nbytes: int, tier: int):
        self.key, self.nbytes, self.tier = key, nbytes, tier
        self.ready, self.pins, self.accesses, self.data = False, 0, 0, None


class Move:
    """Demote `entry` from tier `src` into `dst` (a new, not yet ready entry), or drop it (dst None)."""
    __slots__ = ("dst", "entry", "src")

    def __init__(self, entry: Entry, src: int, dst: Entry | None):
        self.entry, self.src, self.dst = entry, src, dst


class Tier:
    def __init__(self, name: str, capacity: int, terminal: bool):
        self.name, self.capacity, self.terminal = name, max(0, int(capacity)), terminal
        self.used = 0
        self.entries = collections.OrderedDict()     # least recently used first

    def may_hold(self, nbytes: int) -> bool:
        return self.capacity > 0 and nbytes <= SKIP_ABOVE * self.capacity

    def limit(self) -> float:
        return self.capacity if self.terminal else FILL_LIMIT * self.capacity


class Tiers:
    """GPU -> CPU -> storage. A new entry goes to the first tier that can make room for it; making room
    demotes that tier's least recently used entries one tier down (waterfall) and the last tier drops
    them. Entries being written, moved or read are never chosen. Reads do not promote. All decisions
    are taken under one lock; `on_drop(entry)` runs under it too, so a dropped storage file is gone
    before its key can be written again."""

    def __init__(self, capacities, on_drop=None):
        count = len(capacities)
        self.tiers = [Tier(name, cap, i == count - 1) for i, (name, cap) in enumerate(capacities)]
        self.index = {}
        self.lock = threading.Lock()
        self.on_drop = on_drop
        self.offloads = [0] * count                  # demotions into each tier
        self.drops = [0] * count                     # entries dropped from each tier

    def place(self, key: str, nbytes: int):
        """(entry, moves) with the entry reserved (not ready) and the demotions to carry out first, in
        order; (None, None) when the key is already cached, (None, []) when no tier can take the entry."""
        with self.lock:
            if key in self.index:
                return None, None
            moves = []
            tier = self._make_room(nbytes, 0, moves)
            if tier is None:
                return None, []
            return self._add(key, nbytes, tier), moves

    def _add(self, key: str, nbytes: int, tier: int) -> Entry:
        entry = Entry(key, nbytes, tier)
        self.tiers[tier].entries[key] = entry
        self.tiers[tier].used += nbytes
        self.index[key] = entry
        return entry

    def _victims(self, tier: Tier, nbytes: int):
        """LRU entries to evict so nbytes fits under the tier's limit; None when that cannot be done."""
        if tier.used < ALWAYS_BELOW * tier.capacity or tier.used + nbytes <= tier.limit():
            return []
        victims, freed = [], 0
        for entry in tier.entries.values():
            if entry.ready and entry.pins == 0:
                victims.append(entry)
                freed += entry.nbytes
                if tier.used - freed + nbytes <= tier.limit():
                    return victims
        return None

    def _make_room(self, nbytes: int, start: int, moves: list):
        for index in range(start, len(self.tiers)):
            tier = self.tiers[index]
            if not tier.may_hold(nbytes):
                continue
            victims = self._victims(tier, nbytes)
            if victims is None:
                continue
            for victim in victims:
                self._evict(index, victim, moves)
            return index
        return None

    def _evict(self, index: int, victim: Entry, moves: list) -> None:
        tier = self.tiers[index]
        del tier.entries[victim.key]
        tier.used -= victim.nbytes
        del self.index[victim.key]
        dst = None if tier.terminal else self._make_room(victim.nbytes, index + 1, moves)
        if dst is None:
            self.drops[index] += 1
            if self.on_drop is not None:
                self.on_drop(victim)
            moves.append(Move(victim, index, None))
            return
        self.offloads[dst] += 1
        moves.append(Move(victim, index, self._add(victim.key, victim.nbytes, dst)))

    def acquire(self, key: str):
        """The ready entry of key, pinned for reading (release it after), or None (a miss)."""
        with self.lock:
            entry = self.index.get(key)
            if entry is None or not entry.ready:
                return None
            entry.pins += 1
            entry.accesses += 1
            self.tiers[entry.tier].entries.move_to_end(key)
            return entry

    def release(self, entry: Entry) -> None:
        with self.lock:
            entry.pins -= 1

    def commit(self, entry: Entry) -> None:
        with self.lock:
            entry.ready = True

    def discard(self, entry: Entry) -> None:
        """Forget an entry whose write failed."""
        with self.lock:
            if self.index.get(entry.key) is entry:
                del self.index[entry.key]
                tier = self.tiers[entry.tier]
                del tier.entries[entry.key]
                tier.used -= entry.nbytes

    def counts(self) -> list:
        with self.lock:
            return [len(t.entries) for t in self.tiers]


# --- content ---------------------------------------------------------------------------------------
class Content:
    """Entry bytes: a slice of a seeded noise buffer, XOR-stamped per 4 KiB block with the key's hash and
    the block's index, so no block repeats within or across entries (no dedup or compression gains)."""

    def __init__(self, seed: int, largest: int):
        size = max(BLOCK, min(NOISE_MAX, -(-largest // BLOCK) * BLOCK))
        rng = np.random.default_rng(seed)
        self.noise = np.frombuffer(rng.bytes(size), dtype=np.uint8)
        self.blocks = size // BLOCK

    def make(self, key: str, nbytes: int):
        blocks = -(-nbytes // BLOCK)
        out = np.empty(blocks * BLOCK, dtype=np.uint8)
        stamp = key_hash(key)
        src, pos, total = (stamp % self.blocks) * BLOCK, 0, blocks * BLOCK
        while pos < total:
            count = min(total - pos, self.noise.size - src)
            out[pos:pos + count] = self.noise[src:src + count]
            pos, src = pos + count, 0
        words = out.view(np.uint64).reshape(blocks, BLOCK // 8)
        words[:, 0] ^= np.uint64(stamp)
        words[:, 1] ^= np.arange(blocks, dtype=np.uint64)
        return out[:nbytes].view(np.float16)


# --- users and requests ----------------------------------------------------------------------------
class User:
    __slots__ = ("context", "conversation", "generate", "kind", "priority", "qos", "think", "uid")

    def as_dict(self) -> dict:
        return {"user": self.uid, "type": self.kind, "qos": self.qos, "context_tokens": self.context,
                "generate_tokens": self.generate, "think_time": round(self.think, 6)}


def make_users(rng: random.Random, count: int) -> list:
    users = []
    for uid in range(count):
        user = User()
        user.uid = uid
        user.kind, context, generate, think = rng.choice(USER_TYPES)
        user.context = rng.randint(*context)
        user.generate = rng.randint(*generate)
        user.think = rng.uniform(*think)
        draw = rng.random()
        user.qos = "interactive" if draw < 0.15 else "responsive" if draw < 0.5 else "batch"
        user.priority = QOS_PRIORITY[user.qos]
        user.conversation = None
        users.append(user)
    return users


class Conversation:
    __slots__ = ("cid", "closed", "keys")

    def __init__(self, cid: str):
        self.cid, self.keys, self.closed = cid, [], False


class Request:
    __slots__ = ("context", "earlier", "enqueued", "generate", "key", "prefix", "seq", "turn", "user")


class Generator:
    """Deterministic request stream (all randomness of the run is drawn here, from seed + rank)."""

    def __init__(self, rng: random.Random, users: list):
        self.rng, self.users = rng, users
        self.live = collections.OrderedDict()        # conversation id -> Conversation, LRU first
        self.counter = itertools.count()
        self.conversations = 0
        self.max_turn = 0

    def _conversation(self, user: User) -> Conversation:
        conv = user.conversation
        if conv is None or conv.closed:
            conv = Conversation("conv{}".format(self.conversations))
            self.conversations += 1
            user.conversation = conv
            self.live[conv.cid] = conv
            if len(self.live) > MAX_CONVERSATIONS:
                self.live.popitem(last=False)[1].closed = True
        else:
            self.live.move_to_end(conv.cid)
        return conv

    def request(self, user: User) -> Request:
        rng = self.rng
        conv = self._conversation(user)
        req = Request()
        req.user = user
        req.turn = len(conv.keys) + 1
        req.earlier = list(conv.keys)
        req.key = "{}_turn_{}".format(conv.cid, req.turn)
        conv.keys.append(req.key)
        self.max_turn = max(self.max_turn, req.turn)
        req.context = rng.randint(max(1, user.context // 4), user.context)
        req.generate = rng.randint(max(1, user.generate // 4), user.generate)
        req.prefix = rng.random() < PREFIX_LOOKUP_P
        if rng.random() < CONVERSATION_END_P or req.turn >= MAX_TURNS:
            conv.closed = True
            self.live.pop(conv.cid, None)
        req.seq = next(self.counter)
        return req

    def next_think(self, user: User) -> float:
        return user.think * self.rng.uniform(0.8, 1.2)


class RequestQueue:
    """Priority queue on (-priority, enqueue time); get() returns None once closed."""

    def __init__(self):
        self.heap, self.closed = [], False
        self.cond = threading.Condition()

    def put(self, req: Request) -> None:
        with self.cond:
            heapq.heappush(self.heap, (-req.user.priority, req.enqueued, req.seq, req))
            self.cond.notify()

    def get(self):
        with self.cond:
            while not self.heap and not self.closed:
                self.cond.wait()
            if self.closed:
                return None
            return heapq.heappop(self.heap)[3]

    def close(self) -> int:
        with self.cond:
            self.closed = True
            left = len(self.heap)
            self.heap = []
            self.cond.notify_all()
            return left


# --- statistics ------------------------------------------------------------------------------------
SAMPLE_NAMES = ("end_to_end", "storage", "generation", "storage_read_device", "storage_read_host",
                "storage_read_total", "storage_write_device", "storage_write_host", "storage_write_total",
                "gpu_read", "gpu_write", "cpu_read", "cpu_write")
COUNTER_NAMES = ("requests", "tokens", "cache_hits", "cache_misses", "multi_turn_hits", "multi_turn_misses",
                 "prefix_lookups", "prefill_writes", "prefill_skipped", "prefill_rejected", "decode_reads",
                 "decode_misses", "io_errors", "abandoned")


class Stats:
    """Counters and per-request / per-I/O samples (compact float arrays), updated by every worker."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples = {name: array("d") for name in SAMPLE_NAMES}
        self.qos = {name: array("d") for name in QOS_PRIORITY}
        self.count = dict.fromkeys(COUNTER_NAMES, 0)
        self.bytes_read = [0] * len(TIER_NAMES)
        self.bytes_written = [0] * len(TIER_NAMES)
        self.reads = [0] * len(TIER_NAMES)
        self.writes = [0] * len(TIER_NAMES)
        self.first_error = None

    def add(self, **counts) -> None:
        with self.lock:
            for name, value in counts.items():
                self.count[name] += value

    def io(self, tier: int, write: bool, nbytes: int, host: float, device: float) -> None:
        name = TIER_NAMES[tier]
        with self.lock:
            if write:
                self.writes[tier] += 1
                self.bytes_written[tier] += nbytes
            else:
                self.reads[tier] += 1
                self.bytes_read[tier] += nbytes
            kind = "write" if write else "read"
            if name == "storage":
                self.samples["storage_{}_device".format(kind)].append(device)
                self.samples["storage_{}_host".format(kind)].append(host)
                self.samples["storage_{}_total".format(kind)].append(host + device)
            else:
                self.samples["{}_{}".format(name, kind)].append(host + device)

    def error(self, text: str) -> None:
        with self.lock:
            self.count["io_errors"] += 1
            if self.first_error is None:
                self.first_error = text

    def snapshot(self) -> tuple:
        with self.lock:
            return self.count["requests"], self.bytes_read[-1], self.bytes_written[-1]


# --- the engine ------------------------------------------------------------------------------------
class Engine:
    def __init__(self, args, rank: int, folder: str, storage_capacity: int, stop=None):
        self.args, self.rank, self.folder = args, rank, folder
        self.seed = args.seed + rank
        self.bytes_per_token = BYTES_PER_TOKEN[args.model]
        scale = args.size_scale
        self.tiers = Tiers([("gpu", args.gpu_mem_gb * GIB * scale), ("cpu", args.cpu_mem_gb * GIB * scale),
                            ("storage", storage_capacity)], on_drop=self._drop)
        self.stats = Stats()
        self.stop = stop if stop is not None else threading.Event()
        self.queue = RequestQueue()
        rng = random.Random(self.seed)  # noqa: S311 - a reproducible workload, not a secret
        self.users = make_users(rng, args.num_users)
        self.generator = Generator(rng, self.users)
        largest = entry_bytes(max(u.context for u in self.users), self.bytes_per_token, scale)
        self.content = Content(self.seed, largest)
        self.slots = threading.BoundedSemaphore(args.max_concurrent_allocs) if args.max_concurrent_allocs > 0 \
            else None
        self.files = set()                        # .npy files this run wrote and has not deleted
        self.files_lock = threading.Lock()
        self.pending_at_end = 0
        self.started = self.elapsed = None

    # -- storage I/O --
    def path(self, key: str) -> str:
        return os.path.join(self.folder, key + ".npy")

    def _drop(self, entry: Entry) -> None:
        """Called under the tier lock: remove a dropped storage file before its key can come back."""
        entry.data = None
        if self.tiers.tiers[entry.tier].terminal:
            path = self.path(entry.key)
            try:
                os.unlink(path)
            except OSError as exc:
                self.stats.error("{}: cannot delete ({})".format(path, exc.strerror))
            with self.files_lock:
                self.files.discard(path)

    def _write(self, entry: Entry, data) -> float:
        """Store data for entry in its tier; the span (s) it took. Raises OSError."""
        tier = entry.tier
        if self.tiers.tiers[tier].terminal:
            path = self.path(entry.key)
            with self.files_lock:
                self.files.add(path)
            start = time.perf_counter()
            with open(path, "wb") as handle:
                np.save(handle, data, allow_pickle=False)
                handle.flush()
                mid = time.perf_counter()
                os.fsync(handle.fileno())        # the device span: what the storage itself costs
            end = time.perf_counter()
            self.stats.io(tier, True, entry.nbytes, mid - start, end - mid)
            return end - start
        start = time.perf_counter()
        entry.data = data.copy()                 # a host-to-device copy stands for the transfer
        span = time.perf_counter() - start
        self.stats.io(tier, True, entry.nbytes, 0.0, span)
        return span

    def _read(self, entry: Entry) -> float:
        tier = entry.tier
        if self.tiers.tiers[tier].terminal:
            path = self.path(entry.key)
            start = time.perf_counter()
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)   # read from the device, not the page cache
            finally:
                os.close(fd)
            mid = time.perf_counter()
            data = np.load(path, allow_pickle=False)
            end = time.perf_counter()
            if data.nbytes != entry.nbytes:
                raise OSError(0, "{} holds {} bytes, expected {}".format(path, data.nbytes, entry.nbytes), path)
            del data
            self.stats.io(tier, False, entry.nbytes, mid - start, end - mid)
            return end - start
        start = time.perf_counter()
        data = entry.data.copy()
        span = time.perf_counter() - start
        del data
        self.stats.io(tier, False, entry.nbytes, 0.0, span)
        return span

    def _slot(self):
        return self.slots if self.slots is not None else _NoSlot()

    def read_entry(self, key: str) -> tuple:
        """(hit, span): read a cached entry once; a miss costs nothing."""
        entry = self.tiers.acquire(key)
        if entry is None:
            self.stats.add(cache_misses=1)
            return False, 0.0
        try:
            with self._slot():
                span = self._read(entry)
        except OSError as exc:
            self.stats.error("{}: read failed ({})".format(exc.filename or key, exc.strerror or exc))
            self.stats.add(cache_misses=1)
            return False, 0.0
        finally:
            self.tiers.release(entry)
        self.stats.add(cache_hits=1)
        return True, span

    def write_entry(self, key: str, tokens: int) -> tuple:
        """(written, span): place a new entry (demoting what must make room) and write it."""
        nbytes = entry_bytes(tokens, self.bytes_per_token, self.args.size_scale)
        entry, moves = self.tiers.place(key, nbytes)
        if entry is None:
            self.stats.add(prefill_skipped=int(moves is None), prefill_rejected=int(moves is not None))
            return False, 0.0
        span, done = 0.0, 0
        try:
            with self._slot():
                for move in moves:
                    span += self._move(move)
                    done += 1
                span += self._write(entry, self.content.make(key, nbytes))
        except OSError as exc:
            self.stats.error("{}: write failed ({})".format(exc.filename or key, exc.strerror or exc))
            self._undo(entry, moves[done:])
            return False, span
        except BaseException:                     # out of memory, say: release the reservations, then fail
            self._undo(entry, moves[done:])
            raise
        self.tiers.commit(entry)
        return True, span

    def _undo(self, entry: Entry, moves: list) -> None:
        """Forget a reservation whose write failed, and the demotions not carried out for it."""
        for move in moves:
            if move.dst is not None:
                move.entry.data = None
                self.tiers.discard(move.dst)
                self._forget(move.dst)
        self.tiers.discard(entry)
        self._forget(entry)

    def _move(self, move: Move) -> float:
        """Carry out one demotion: the victim's data is read from its tier and written one tier down."""
        victim, dst = move.entry, move.dst
        if dst is None:
            return 0.0
        data, victim.data = victim.data, None
        try:
            self.stats.io(move.src, False, victim.nbytes, 0.0, 0.0)  # the data is already in host memory
            span = self._write(dst, data)
            del data
            self.tiers.commit(dst)
            return span
        except OSError as exc:
            self.stats.error("{}: demotion failed ({})".format(exc.filename or victim.key, exc.strerror or exc))
            self.tiers.discard(dst)
            self._forget(dst)
            return 0.0

    def _forget(self, entry: Entry) -> None:
        if self.tiers.tiers[entry.tier].terminal:
            path = self.path(entry.key)
            with contextlib.suppress(OSError):
                os.unlink(path)
            with self.files_lock:
                self.files.discard(path)

    # -- serving --
    def serve(self, req: Request) -> None:
        storage = 0.0
        if req.prefix:
            self.stats.add(prefix_lookups=1, cache_misses=1)   # a shared-prefix key no request writes
        for key in req.earlier:
            if self.stop.is_set():
                return self._abandon()
            hit, span = self.read_entry(key)
            storage += span
            self.stats.add(multi_turn_hits=int(hit), multi_turn_misses=int(not hit))
        if self.stop.is_set():
            return self._abandon()
        written, span = self.write_entry(req.key, req.context)
        storage += span
        self.stats.add(prefill_writes=int(written))
        decode_reads = 0
        for index in range(1 + math.ceil(req.generate / DECODE_TOKENS_PER_READ)):
            if self.stop.is_set():
                return self._abandon()
            hit, span = self.read_entry(req.key)
            storage += span
            if not hit:
                if index == 0:                    # on a miss decode writes the entry instead
                    written, span = self.write_entry(req.key, req.context)
                    storage += span
                    self.stats.add(decode_misses=1)
                break
            decode_reads += 1
        self.stats.add(decode_reads=decode_reads)
        generation = 0.0
        pause = req.generate * GENERATION_SECONDS_PER_TOKEN[self.args.generation_mode]
        if pause > 0:
            start = time.perf_counter()
            if self.stop.wait(pause):
                return self._abandon()
            generation = time.perf_counter() - start
        end_to_end = time.perf_counter() - req.enqueued
        with self.stats.lock:
            stats = self.stats
            stats.samples["end_to_end"].append(end_to_end)
            stats.samples["storage"].append(storage)
            stats.samples["generation"].append(generation)
            stats.qos[req.user.qos].append(end_to_end)
            stats.count["requests"] += 1
            stats.count["tokens"] += req.generate
            done = stats.count["requests"]
        if self.args.max_requests and done >= self.args.max_requests:
            self.stop.set()
        return None

    def _abandon(self) -> None:
        self.stats.add(abandoned=1)

    def _worker(self) -> None:
        while True:
            req = self.queue.get()
            if req is None:
                return
            try:
                self.serve(req)
            except Exception as exc:  # one failed request (out of memory, say) must not end the worker
                self.stats.error("request {}: {}: {}".format(req.key, type(exc).__name__, exc))

    def _users(self) -> None:
        """Open loop: each user enqueues a request, thinks, enqueues the next; it never waits for replies."""
        now = time.perf_counter()
        due = [(now, user.uid) for user in self.users]
        heapq.heapify(due)
        while not self.stop.is_set():
            when, uid = heapq.heappop(due)
            delay = when - time.perf_counter()
            if delay > 0 and self.stop.wait(delay):
                return
            user = self.users[uid]
            req = self.generator.request(user)
            req.enqueued = time.perf_counter()
            self.queue.put(req)
            heapq.heappush(due, (when + self.generator.next_think(user), uid))

    def run(self, progress) -> None:
        workers = [threading.Thread(target=self._worker, name="kv-worker-{}".format(i), daemon=True)
                   for i in range(min(self.args.num_users, MAX_WORKERS))]
        for thread in workers:
            thread.start()
        self.started = time.perf_counter()
        users = threading.Thread(target=self._users, name="kv-users", daemon=True)
        users.start()
        deadline = self.started + self.args.duration
        progress(0.0, self.stats.snapshot())
        while not self.stop.is_set():
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self.stop.wait(min(1.0, left))
            progress(time.perf_counter() - self.started, self.stats.snapshot())
        self.stop.set()
        self.pending_at_end = self.queue.close()
        users.join()
        for thread in workers:
            thread.join()
        self.elapsed = time.perf_counter() - self.started

    def cleanup(self) -> int:
        """Delete every .npy file this run wrote; the count deleted."""
        with self.files_lock:
            paths, self.files = sorted(self.files), set()
        removed = 0
        for path in paths:
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                print("{}: warning: {}: cannot delete ({})".format(PROG, path, exc.strerror), file=sys.stderr)
        return removed

    # -- results --
    def results(self, hostname: str, argv: list) -> dict:
        stats, args, elapsed = self.stats, self.args, self.elapsed or 0.0
        count, samples = stats.count, stats.samples
        storage_total = math.fsum(samples["storage"])
        read_gb = [b / GIB for b in stats.bytes_read]
        write_gb = [b / GIB for b in stats.bytes_written]
        lookups = count["cache_hits"] + count["cache_misses"]
        hit_rate = count["cache_hits"] / lookups if lookups else 0.0
        entries = self.tiers.counts()
        cache = {"cache_hit_rate": hit_rate, "cache_hits": count["cache_hits"], "cache_misses": count["cache_misses"]}
        for index, name in enumerate(TIER_NAMES):
            cache["{}_entries".format(name)] = entries[index]
        for index, name in enumerate(TIER_NAMES):
            cache["tier_{}_kv_bytes_read_gb".format(name)] = read_gb[index]
            cache["tier_{}_kv_bytes_written_gb".format(name)] = write_gb[index]
        cache["tier_storage_read_bandwidth_gbps"] = read_gb[-1] / elapsed if elapsed > 0 else 0.0
        cache["tier_storage_write_bandwidth_gbps"] = write_gb[-1] / elapsed if elapsed > 0 else 0.0
        cache.update({
            "offloads_cpu": self.tiers.offloads[1], "offloads_storage": self.tiers.offloads[2],
            "evictions": sum(self.tiers.drops), "storage_evictions": self.tiers.drops[-1],
            "prefill_writes": count["prefill_writes"], "decode_reads": count["decode_reads"],
            "total_read_gb": sum(read_gb), "total_write_gb": sum(write_gb),
            "read_iops": sum(stats.reads), "write_iops": sum(stats.writes),
            "storage_read_ops": stats.reads[-1], "storage_write_ops": stats.writes[-1],
            "read_write_ratio": sum(read_gb) / sum(write_gb) if sum(write_gb) > 0 else 0.0,
        })
        for kind in ("read", "write"):
            for part, label in (("device", "_device"), ("host", "_host"), ("total", "")):
                figures = latency_ms(samples["storage_{}_{}".format(kind, part)])
                for name, _ in PERCENTILES:
                    cache["storage_{}{}_{}_ms".format(kind, label, name)] = figures[name]
        for name in ("gpu", "cpu"):
            for kind in ("read", "write"):
                cache["{}_{}_p95_ms".format(name, kind)] = latency_ms(samples["{}_{}".format(name, kind)])["p95"]
        cache["storage_health"] = storage_health(cache, samples["cpu_read"])
        summary = {
            "elapsed_time": elapsed, "total_requests": count["requests"], "total_tokens": count["tokens"],
            "requests_per_second": count["requests"] / elapsed if elapsed > 0 else 0.0,
            "avg_throughput_tokens_per_sec": count["tokens"] / elapsed if elapsed > 0 else 0.0,
            "total_storage_io_time": storage_total,
            "storage_throughput_tokens_per_sec": count["tokens"] / storage_total if storage_total > 0 else 0.0,
            "end_to_end_latency_ms": latency_ms(samples["end_to_end"]),
            "storage_io_latency_ms": latency_ms(samples["storage"]),
            "generation_latency_ms": latency_ms(samples["generation"]),
            "cache_stats": cache,
            "qos_metrics": {name: {"priority": QOS_PRIORITY[name], "requests": len(stats.qos[name]),
                                   "users": sum(1 for u in self.users if u.qos == name),
                                   "end_to_end_latency_ms": latency_ms(stats.qos[name])} for name in QOS_PRIORITY},
            "prefix_cache_stats": {"lookups": count["prefix_lookups"], "hits": 0, "misses": count["prefix_lookups"]},
            "multi_turn_stats": {
                "cache_hits": count["multi_turn_hits"], "cache_misses": count["multi_turn_misses"],
                "hit_rate": count["multi_turn_hits"] / (count["multi_turn_hits"] + count["multi_turn_misses"])
                if count["multi_turn_hits"] + count["multi_turn_misses"] else 0.0,
                "conversations": self.generator.conversations, "max_turn": self.generator.max_turn,
                "max_turns_per_conversation": MAX_TURNS},
        }
        return {
            "engine": ENGINE, "engine_version": ENGINE_VERSION, "rank": self.rank, "hostname": hostname,
            "model": args.model, "seed": self.seed, "size_scale": args.size_scale,
            "args": {key: value for key, value in sorted(vars(args).items())}, "argv": argv,
            "bytes_per_token": self.bytes_per_token,
            "tier_capacity_bytes": {t.name: t.capacity for t in self.tiers.tiers},
            "tier_used_bytes": {t.name: t.used for t in self.tiers.tiers},
            "requests_completed": count["requests"], "total_tokens_generated": count["tokens"],
            "total_storage_io_latency": storage_total,
            "total_generation_latency": math.fsum(samples["generation"]),
            "end_to_end_latencies": samples["end_to_end"].tolist(),
            "storage_latencies": samples["storage"].tolist(),
            "generation_latencies": samples["generation"].tolist(),
            "multi_turn_cache_hits": count["multi_turn_hits"], "multi_turn_cache_misses": count["multi_turn_misses"],
            "storage_bytes_read": stats.bytes_read[-1], "storage_bytes_written": stats.bytes_written[-1],
            "tier_bytes_read": dict(zip(TIER_NAMES, stats.bytes_read)),
            "tier_bytes_written": dict(zip(TIER_NAMES, stats.bytes_written)),
            "prefill_skipped": count["prefill_skipped"], "prefill_rejected": count["prefill_rejected"],
            "decode_misses": count["decode_misses"],
            "requests_abandoned_at_end": count["abandoned"], "requests_pending_at_end": self.pending_at_end,
            "io_errors": count["io_errors"], "first_io_error": stats.first_error,
            "users": [u.as_dict() for u in self.users],
            "summary": summary,
        }


class _NoSlot:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def storage_health(cache: dict, cpu_reads) -> dict:
    """Pass/fail of the latency targets and the hit-rate floor (informational, as in kv-cache.py)."""
    criteria = []
    for name, target in HEALTH_TARGETS:
        if name == "cpu_read_p95_ms" and not len(cpu_reads):
            continue                              # no CPU tier traffic: nothing to judge
        criteria.append({"name": name, "target_ms": target, "actual": cache[name], "passed": cache[name] < target})
    criteria.append({"name": "cache_hit_rate", "target": HEALTH_MIN_HIT_RATE, "actual": cache["cache_hit_rate"],
                     "passed": cache["cache_hit_rate"] > HEALTH_MIN_HIT_RATE})
    passed = sum(1 for c in criteria if c["passed"])
    return {"overall_status": "PASS" if passed == len(criteria) else "FAIL", "criteria": criteria,
            "passed_count": passed, "total_count": len(criteria)}


# --- progress log ----------------------------------------------------------------------------------
def progress_line(kind: str, label: str, elapsed: float, duration, requests: int, read: int, written: int) -> str:
    """One progress line (kind `progress` or `done`), stamped with local time like the other engines' logs."""
    fields = ["mlps-kvcache", kind, "label={}".format(json.dumps(label)), "elapsed={:.1f}".format(elapsed)]
    if duration is not None:
        fields.append("duration={:g}".format(duration))
    fields += ["requests={}".format(requests), "read_bytes={}".format(read), "write_bytes={}".format(written)]
    return "{} {}\n".format(datetime.datetime.now().isoformat(), " ".join(fields))


class ProgressLog:
    def __init__(self, path, label: str, duration: float):
        self.path, self.label, self.duration = path, label, duration

    def __call__(self, elapsed: float, snapshot: tuple, kind: str = "progress") -> None:
        if not self.path:
            return
        line = progress_line(kind, self.label, elapsed, self.duration if kind == "progress" else None, *snapshot)
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as exc:                   # progress is a convenience: never stop the run for it
            print("{}: warning: --progress-log {}: {}; progress lines stop".format(PROG, self.path, exc.strerror),
                  file=sys.stderr)
            self.path = None


# --- setup -----------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("{} (see --help)".format(message))


def parse_args(argv):
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="one of " + ", ".join(BYTES_PER_TOKEN))
    parser.add_argument("--num-users", type=int, required=True, help="simulated users of this rank")
    parser.add_argument("--duration", type=float, required=True, help="run length, seconds")
    parser.add_argument("--gpu-mem-gb", type=float, required=True, help="GPU tier size, GiB (0: no GPU tier)")
    parser.add_argument("--cpu-mem-gb", type=float, required=True, help="CPU tier size, GiB (0: no CPU tier)")
    parser.add_argument("--max-concurrent-allocs", type=int, required=True,
                        help="most entry buffers in flight at once (0: no bound)")
    parser.add_argument("--generation-mode", required=True, help="none, fast or realistic")
    parser.add_argument("--seed", type=int, default=42, help="base seed; each rank uses seed + rank (default 42)")
    parser.add_argument("--cache-dir", required=True, help="storage tier folder; this rank uses <dir>/rank_<N>/")
    parser.add_argument("--results-dir", required=True, help="results go to <dir>/rank_<N>/")
    parser.add_argument("--storage-capacity-gb", type=float,
                        help="storage tier size, GiB (default: 95%% of the cache filesystem's free space)")
    parser.add_argument("--size-scale", type=float, default=1.0,
                        help="multiply every entry's bytes (and the GPU/CPU tier sizes) by this, 0 < F <= 1")
    parser.add_argument("--progress-log", help="rank 0 appends a progress line about once a second")
    parser.add_argument("--label", default="", help="free text carried in the progress lines")
    parser.add_argument("--max-requests", type=int, default=0, help="stop after this many requests (0: no limit)")
    parser.add_argument("--delegate", metavar="KV_CACHE_PY",
                        help="run MLCommons' kv-cache.py for this rank instead of this engine (same options)")
    args = parser.parse_args(argv)
    checks = (
        (args.model in BYTES_PER_TOKEN, "--model {!r}: unknown model; expected one of {}".format(
            args.model, ", ".join(BYTES_PER_TOKEN))),
        (args.num_users >= 1, "--num-users {}: expected 1 or more".format(args.num_users)),
        (args.duration > 0 and math.isfinite(args.duration), "--duration {}: expected seconds > 0".format(
            args.duration)),
        (args.gpu_mem_gb >= 0, "--gpu-mem-gb {}: expected 0 or more GiB".format(args.gpu_mem_gb)),
        (args.cpu_mem_gb >= 0, "--cpu-mem-gb {}: expected 0 or more GiB".format(args.cpu_mem_gb)),
        (args.max_concurrent_allocs >= 0, "--max-concurrent-allocs {}: expected 0 (no bound) or more".format(
            args.max_concurrent_allocs)),
        (args.generation_mode in GENERATION_SECONDS_PER_TOKEN, "--generation-mode {!r}: expected one of {}".format(
            args.generation_mode, ", ".join(GENERATION_SECONDS_PER_TOKEN))),
        (args.storage_capacity_gb is None or args.storage_capacity_gb > 0,
         "--storage-capacity-gb {}: expected GiB > 0, or leave it out for 95% of the free space".format(
             args.storage_capacity_gb)),
        (0 < args.size_scale <= 1, "--size-scale {}: expected 0 < F <= 1".format(args.size_scale)),
        (args.max_requests >= 0, "--max-requests {}: expected 0 (no limit) or more".format(args.max_requests)),
        (not args.delegate or os.path.isfile(args.delegate),
         "--delegate {}: not a file; give the path of MLCommons' kv-cache.py".format(args.delegate)),
        (not args.delegate or args.size_scale == 1,
         "--size-scale {}: MLCommons' kv-cache.py has no size scale; use 1 with --delegate".format(args.size_scale)),
    )
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    return args


def prepare_dir(base: str, rank: int, option: str) -> tuple:
    """(<base>/rank_<N>, created?) after checking a file can be written there."""
    folder = os.path.join(base, "rank_{}".format(rank))
    created = not os.path.isdir(folder)
    probe = os.path.join(folder, ".mlps-kvcache-probe-{}".format(os.getpid()))
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as exc:
        if created and os.path.isdir(folder):
            _remove_empty(folder)
        raise UsageError("{} {}: cannot create or write {} ({}); give a writable directory".format(
            option, base, folder, exc.strerror or exc)) from exc
    return folder, created


def _remove_empty(folder: str) -> None:
    with contextlib.suppress(OSError):           # not empty, or already gone: leave it
        os.rmdir(folder)


def storage_capacity(args, folder: str) -> int:
    if args.storage_capacity_gb is not None:
        return int(args.storage_capacity_gb * GIB)
    stat = os.statvfs(folder)
    return int(stat.f_bavail * stat.f_frsize * STORAGE_SHARE_OF_FREE)


def write_json(path: str, data) -> None:
    tmp = os.path.join(os.path.dirname(path), ".{}.tmp{}".format(os.path.basename(path), os.getpid()))
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def execute(args, argv: list, rank: int, stop: threading.Event, signals: list) -> str:
    """Run one rank; the results file path. `stop` set by a signal ends the run early: the cache files
    are deleted and no results are written (a cut-short trial must not look like a whole one)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    cache, cache_created = prepare_dir(args.cache_dir, rank, "--cache-dir")
    engine = None
    try:
        leftovers = [n for n in os.listdir(cache) if n.endswith(".npy")]
        if leftovers:
            raise UsageError("--cache-dir {}: {} already holds {} .npy files from another run; remove them so "
                             "the trial starts with an empty cache".format(args.cache_dir, cache, len(leftovers)))
        out, _ = prepare_dir(args.results_dir, rank, "--results-dir")
        capacity = storage_capacity(args, cache)
        engine = Engine(args, rank, cache, capacity, stop)
        log = ProgressLog(args.progress_log if rank == 0 else None, args.label, args.duration)
        engine.run(log)
        log(engine.elapsed, engine.stats.snapshot(), kind="done")
        if signals:
            raise Interrupted()
        result = engine.results(socket.gethostname(), argv)
        path = os.path.join(out, "kvcache_results_{}.json".format(stamp))
        try:
            write_json(path, result)
        except OSError as exc:
            raise UsageError("--results-dir {}: cannot write {} ({}); give a writable directory".format(
                args.results_dir, path, exc.strerror)) from exc
        return path
    finally:
        if engine is not None:
            engine.stop.set()
            engine.cleanup()
        if cache_created:
            _remove_empty(cache)


class Interrupted(Exception):
    """SIGTERM or SIGINT arrived (mpirun aborting the job)."""


# --- the supervisor: a rank that dies must not take the trial with it ---------------------------------
CHILD_FLAG = "--mlps-rank-child"


def delegate_argv(args, rank: int, stamp: str) -> list:
    """kv-cache.py's argv for this rank, as MLCommons' wrapper gives it: seed + rank, the rank's own
    cache folder and results file."""
    cache, _ = prepare_dir(args.cache_dir, rank, "--cache-dir")
    out, _ = prepare_dir(args.results_dir, rank, "--results-dir")
    argv = [sys.executable, args.delegate, "--model", args.model, "--num-users", str(args.num_users),
            "--duration", "{:g}".format(args.duration), "--gpu-mem-gb", "{:g}".format(args.gpu_mem_gb),
            "--cpu-mem-gb", "{:g}".format(args.cpu_mem_gb),
            "--max-concurrent-allocs", str(args.max_concurrent_allocs), "--generation-mode", args.generation_mode,
            "--seed", str(args.seed + rank), "--cache-dir", cache,
            "--output", os.path.join(out, "kvcache_results_{}.json".format(stamp))]
    if args.storage_capacity_gb is not None:
        argv += ["--storage-capacity-gb", "{:g}".format(args.storage_capacity_gb)]
    return argv


def record_failure(args, rank: int, stamp: str, returncode: int) -> str:
    """The rank's failure record beside where its results would have been, and its cache files gone
    (the engine starts only on an empty rank folder, so every .npy there is the dead child's)."""
    how = "killed by signal {}".format(-returncode) if returncode < 0 else "exited with status {}".format(returncode)
    cache = os.path.join(args.cache_dir, "rank_{}".format(rank))
    removed = 0
    with contextlib.suppress(OSError):
        for name in os.listdir(cache):
            if name.endswith(".npy") or name.endswith(".npy.tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(cache, name))
                    removed += 1
    out, _ = prepare_dir(args.results_dir, rank, "--results-dir")
    path = os.path.join(out, "kvcache_failure_{}.json".format(stamp))
    write_json(path, {"rank": rank, "hostname": socket.gethostname(), "returncode": returncode,
                      "reason": "rank {} on {} {}".format(rank, socket.gethostname(), how),
                      "cache_files_removed": removed, "engine": "mlcommons" if args.delegate else ENGINE})
    return path


def supervise(args, argv: list, rank: int) -> int:
    """Run the rank in a child process and outlive it. A child that dies on its own (killed, crashed)
    leaves a failure record and its cache cleaned, and this process exits 0 so that mpirun lets the
    other ranks finish the trial (the trial is then partial, naming this rank). A stop from outside
    (SIGTERM, SIGINT) is passed on and ends the rank as the engine would."""
    stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    if args.delegate:
        command = delegate_argv(args, rank, stamp)
    else:
        command = [sys.executable, os.path.abspath(__file__), CHILD_FLAG, *argv]
    child = subprocess.Popen(command)
    stopped = []

    def forward(signum, _frame):
        stopped.append(signum)
        with contextlib.suppress(OSError):
            child.send_signal(signum)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    log = ProgressLog(args.progress_log if (rank == 0 and args.delegate) else None, args.label, args.duration)
    started = time.monotonic()
    while True:
        try:
            returncode = child.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            log(time.monotonic() - started, (0, 0, 0), kind="progress")
    if stopped:
        return 128 + stopped[0]
    if returncode in (0, 2):          # done, or bad input (the same on every rank: the trial fails)
        return returncode
    path = record_failure(args, rank, stamp, returncode)
    print("{}: rank {} failed ({}); recorded in {}".format(PROG, rank, returncode, path), file=sys.stderr)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    child = CHILD_FLAG in argv
    argv = [a for a in argv if a != CHILD_FLAG]
    try:
        args = parse_args(argv)
        if np is None and not args.delegate:
            raise UsageError("numpy is not installed for {}; install the client requirements into this "
                             "venv".format(sys.executable))
    except UsageError as exc:
        print("{}: error: {}".format(PROG, exc), file=sys.stderr)
        return 2
    rank = rank_from_env(os.environ)
    if not child:
        try:
            return supervise(args, argv, rank)
        except UsageError as exc:
            print("{}: error: rank {}: {}".format(PROG, rank, exc), file=sys.stderr)
            return 2
    stop, signals = threading.Event(), []

    def on_signal(signum, _frame):
        signals.append(signum)
        stop.set()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        path = execute(args, argv, rank, stop, signals)
    except UsageError as exc:
        print("{}: error: rank {}: {}".format(PROG, rank, exc), file=sys.stderr)
        return 2
    except Interrupted:
        print("{}: rank {} stopped by signal {}; cache files deleted, no results written".format(
            PROG, rank, signals[0]), file=sys.stderr)
        return 128 + signals[0]
    print("{}: rank {} wrote {}".format(PROG, rank, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
