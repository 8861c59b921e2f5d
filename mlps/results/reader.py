"""Read any MLPerf Storage results tree (ours, the v3.0 layout, v1.0-style trees) into a models.Tree.

It never raises on what it finds: missing, unparsable, oversized or placeholder files become
Problems the rules turn into findings; junk (`._*`, `.DS_Store`, lock files, crash logs) is ignored
and listed; code trees inside results are skipped; symlinked directories are never followed and
symlinked files only when they point inside the tree. Only what the rules read is parsed: the
summary, one per-epoch file, the overrides list (by hand, it is a plain list), config.yaml (C YAML
loader when available), metadata, fs_separation.json, shared_fs.json, cluster_info.json,
provenance.json, a KV-cache run leaf's `option_*/trial_*/rank_*` results (mlps.results.kv_cache) and
a VectorDB leaf's statistics, result_verdict.json and load.json (mlps.results.vector_database; a leaf
without summary.json gets the one its statistics file gives).

Symlinks: every file is opened below the root through mlps.safe_path (resolved, refused
outside the tree, then opened component by component with O_NOFOLLOW), so no link that leaves the
tree is followed at any depth - a symlinked `run` folder included - and a link swapped in after
the listing is caught too. A link (to a file or a folder) that leaves the tree is a `symlink`
Problem (a WARNING finding), never read. JSON and YAML go through mlps.jsonio: above the
size limit (YAML: 1 MiB) or nested deeper than MAX_DEPTH it is a Problem too, not a crash. The
folders are walked by mlps.tree_walk (iterative, depth and size capped: a `limit` Problem).
DLIO's config files are parsed by mlps.results.dlio_config.

Longer than most files on purpose: the walk, reading one leaf and grouping leaves into workloads
share one walker's state (the tree, its problems, what was skipped), and splitting them would
hand that state around.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from pathlib import Path

from mlps import tree_walk
from mlps.jsonio import MAX_BYTES, YAML_MAX_BYTES, ReadError, parse_json, read_bytes
from mlps.results import compact, kv_cache, vector_database
from mlps.results.dlio_config import parse_config, parse_overrides
from mlps.results.models import Leaf, Problem, Tree, Workload, parse_dir_timestamp
from mlps.rulebook.workloads import BENCHMARKS, TRAINING_WORKLOADS
from mlps.safe_path import open_under

SIZE_LIMIT = MAX_BYTES

COMMANDS = ("run", "datagen", "datasize", "configview")
CONFIG_DIRS = ("dlio_config", "configs", ".hydra")
CONFIG_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
# Folders that are code or tool state whatever they hold (published trees carry code trees inside results).
SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv", "site-packages",
                       "dlio_benchmark", "code-images", ".pytest_cache", ".idea", ".vscode"})
# Names a code tree often has but a system or run folder may have too (a system called `test`): skipped
# only when the folder holds code (a marker, source files, a venv), never for the name alone.
CODE_LIKE_NAMES = frozenset({"code", "venv", "test", "tests", "test_data"})
CODE_MARKERS = frozenset({".code-hash.json", "setup.py", "pyproject.toml", ".git", ".mlps-image-pool"})
CODE_FILES = frozenset({"pyvenv.cfg", "requirements.txt", "setup.cfg", "Makefile", "__init__.py", "conftest.py"})
CODE_SUFFIXES = (".py", ".pyc", ".sh", ".c", ".cc", ".cpp", ".h", ".go", ".java", ".ipynb")
# v1.0 datagen logs beside results/ (generation_logs/<system>/<workload>/<host>/): evidence, not workloads.
DATAGEN_LOG_DIRS = frozenset({"generation_logs"})
SCAN_LIMIT = 20_000                      # folders looked at inside one skipped tree when counting leaves
NOT_HOST_DIRS = frozenset({"vectordb", "collector-staging"})
# Names a v1.0 workload folder starts with (it sits where v3.0 has <benchmark>): every training and
# checkpointing model of any edition.
MODEL_PREFIXES = tuple(sorted({model for model, _accel in TRAINING_WORKLOADS} | {"llama"}))

SUMMARY_RE = re.compile(r"^(?:.*_)?summary(?:_.*)?\.json$")
PER_EPOCH_RE = re.compile(r"^(?:(\d+)_)?per_epoch_stats\.json$")
OUTPUT_RE = re.compile(r"^(\d+)_output\.json$")
METADATA_RE = re.compile(r"^.+_metadata\.json$")
RUN_NAME_RE = re.compile(r"^(?:.*_)?run[-_]?\d+$", re.IGNORECASE)
CODE_IMAGE_RE = re.compile(r"^code-[0-9a-f]{8}$")
CRASH_RE = re.compile(r"^(?:core(?:\.\d+)?|hs_err_pid\d+\.log|.*\.crash|crash.*\.(?:log|txt))$", re.IGNORECASE)
PLACEHOLDER = b"PRUNED BY STAFF"


class TreeError(Exception):
    """The tree itself cannot be read (absent, not a directory, permission denied)."""


def is_junk(name: str) -> bool:
    return (name.startswith(("._", "~$", ".~lock")) or name in (".DS_Store", "Thumbs.db", "desktop.ini")
            or bool(CRASH_RE.match(name)))


def read_tree(root, size_limit: int = SIZE_LIMIT) -> Tree:
    root = Path(root).absolute()
    if not root.exists():
        raise TreeError(f"{root}: no such directory; give the results directory to verify")
    if not root.is_dir():
        raise TreeError(f"{root}: not a directory; give the results directory to verify")
    try:
        os.scandir(root).close()
    except OSError as exc:
        raise TreeError(f"{root}: cannot list it ({exc.strerror}); check permissions") from exc
    walker = _Walker(root, size_limit)
    try:
        for rel, reason in tree_walk.walk(root, walker.visit):
            walker.tree.problems.append(Problem("limit", rel or ".", reason))
        walker.group()
    finally:
        walker.close()
    return walker.tree


class _Walker:
    def __init__(self, root: Path, size_limit: int):
        self.root = root
        self.root_real = os.path.realpath(root)
        self.limit = size_limit
        self.tree = Tree(root=root)
        self.leaves: list[Leaf] = []
        self.reports: list[tuple[str, Path]] = []     # (dir rel, file path)
        self.shared = compact.Shared()
        self._folder: tuple[Path, int] | None = None     # the folder whose files are being read, its fd

    # --- directory walk -----------------------------------------------------------------------
    def _list(self, path: Path, rel: str, problems: list):
        files, dirs = {}, {}
        try:
            with os.scandir(path) as it:
                # bounded: a folder of millions of entries costs neither the memory nor the time
                entries = list(itertools.islice(it, tree_walk.MAX_ENTRIES + 1))
        except OSError as exc:
            problems.append(Problem("unreadable", rel or ".", f"cannot list directory: {exc.strerror}"))
            return files, dirs
        if len(entries) > tree_walk.MAX_ENTRIES:
            entries.pop()
            problems.append(Problem("limit", rel or ".", f"more than {tree_walk.MAX_ENTRIES} entries; "
                                                          "only the first ones read"))
        for entry in entries:
            name = entry.name
            child_rel = f"{rel}/{name}" if rel else name
            if is_junk(name):
                self.tree.junk.append(child_rel)
                continue
            try:
                if entry.is_symlink():
                    self._symlink(entry, child_rel, files, problems)
                elif entry.is_dir(follow_symlinks=False):
                    dirs[name] = entry
                elif entry.is_file(follow_symlinks=False):
                    files[name] = entry
            except OSError as exc:
                problems.append(Problem("unreadable", child_rel, exc.strerror or str(exc)))
        return files, dirs

    def _inside(self, target: str) -> bool:
        return target == self.root_real or target.startswith(self.root_real + os.sep)

    def _symlink(self, entry, rel: str, files: dict, problems: list) -> None:
        target = os.path.realpath(entry.path)
        if not self._inside(target):
            kind = "folder" if os.path.isdir(target) else "file"
            problems.append(Problem("symlink", rel, f"symlinked {kind} points outside the tree to {target}; "
                                                    "not read"))
        elif os.path.isdir(target):
            # inside the tree it is read where it really is; following it could loop or count twice
            self.tree.skipped.append(f"{rel} (symlinked directory, not followed)")
        elif os.path.isfile(target):
            files[entry.name] = entry

    def visit(self, path: Path, rel: str, _depth: int) -> list[str]:
        """One folder of the walk (mlps.tree_walk): a leaf is read, else its folders are entered."""
        problems: list = []
        files, dirs = self._list(path, rel, problems)
        name = path.name
        if rel and _is_code_tree(name, files, dirs):
            self._skip(path, rel, "code tree")
            return []
        if rel and name in DATAGEN_LOG_DIRS:
            self._skip(path, rel, "v1.0 datagen logs, not a workload")
            return []
        if "mlperf_storage_report.json" in files:
            self.reports.append((rel, path / "mlperf_storage_report.json"))
        leaf = None
        if rel and (parse_dir_timestamp(name) or _has_markers(files, dirs)):
            leaf = self._read_leaf(path, rel, files, dirs)
        elif rel and RUN_NAME_RE.match(name):
            hosts = self._host_parts(path, rel, dirs)
            if hosts:
                leaf = self._read_leaf(path, rel, files, dirs, hosts)
        if leaf is not None:
            leaf.problems[:0] = problems          # what listing the leaf met belongs to the leaf
            self.leaves.append(leaf)
            return []
        self.tree.problems.extend(problems)
        return sorted(dirs)

    def _skip(self, path: Path, rel: str, why: str) -> None:
        """Skip a folder that is not results, and remember every leaf-like folder inside it, so the
        verdict says how many were not judged instead of hiding them."""
        self.tree.skipped.append(f"{rel} ({why})")
        for seen, (folder, subdirs, names) in enumerate(os.walk(path, onerror=lambda _err: None)):
            if seen >= SCAN_LIMIT:
                break
            subdirs.sort()
            here = Path(folder)
            if (parse_dir_timestamp(here.name) or any(d in CONFIG_DIRS for d in subdirs)
                    or any(SUMMARY_RE.match(n) or PER_EPOCH_RE.match(n) for n in names if not is_junk(n))):
                self.tree.skipped_leaves.append(f"{rel}/{here.relative_to(path).as_posix()}".removesuffix("/."))
                subdirs[:] = [d for d in subdirs if d not in CONFIG_DIRS]

    def _host_parts(self, path: Path, rel: str, dirs: dict) -> dict:
        """Child folders of a run that hold a host's DLIO files (v1.0 per-host subfolders)."""
        hosts = {}
        for child in sorted(dirs):
            if child in CONFIG_DIRS or child in NOT_HOST_DIRS or child.startswith(("option_", ".")):
                continue
            sub_files, sub_dirs = self._list(path / child, f"{rel}/{child}", self.tree.problems)
            if any(SUMMARY_RE.match(f) or PER_EPOCH_RE.match(f) for f in sub_files):
                hosts[child] = (sub_files, sub_dirs)
        return hosts

    # --- one leaf -----------------------------------------------------------------------------
    def _read_leaf(self, path: Path, rel: str, files: dict, dirs: dict, hosts: dict | None = None) -> Leaf:
        leaf = Leaf(path=path, rel=rel, name=path.name, timestamp=parse_dir_timestamp(path.name),
                    files=frozenset(files))
        if hosts is None:
            hosts = self._host_parts(path, rel, dirs) if dirs else {}
        leaf.host_parts = tuple(hosts)
        problems = leaf.problems
        self._read_summary_and_stats(leaf, path, rel, files, hosts)
        leaf.output_files = tuple(sorted(f for f in files if OUTPUT_RE.match(f)))
        meta_names = sorted(f for f in files if METADATA_RE.match(f))
        if meta_names:
            preferred = [m for m in meta_names if path.name in m] or meta_names
            leaf.metadata_file = preferred[0]
            leaf.metadata = compact.metadata(self._json(path / preferred[0], f"{rel}/{preferred[0]}", problems))
        if "fs_separation.json" in files:
            leaf.fs_separation = self._json(path / "fs_separation.json", f"{rel}/fs_separation.json", problems)
        if "shared_fs.json" in files:
            leaf.shared_fs = self._json(path / "shared_fs.json", f"{rel}/shared_fs.json", problems)
        if "provenance.json" in files:
            prov = self._json(path / "provenance.json", f"{rel}/provenance.json", problems)
            if isinstance(prov, dict) and isinstance(prov.get("rules_edition"), str):
                leaf.rules_edition = prov["rules_edition"]
        self._read_cluster_info(leaf, path, rel, files, dirs)
        self._read_config_dir(leaf, path, rel, dirs, hosts)
        if kv_cache.has_rank_folders(dirs):
            # a KV-cache run leaf: its per-rank results, compacted (the summary is recomputed from them)
            leaf.kv_ranks = kv_cache.read_rank_files(path, self.root, rel)
            problems.extend(leaf.kv_ranks.problems)
        if vector_database.has_vdb_files(files, dirs):
            found = vector_database.read_leaf_files(path, self.root, rel, files, dirs, self.limit)
            vector_database.attach(leaf, found)
            problems.extend(found.problems)
        if "ior.json" in files or ("daemon" in dirs and "benchfs.toml" in files):
            # a BenchFS + IOR leaf: IOR's JSON summary and the names of its daemons' logs
            ior = self._json(path / "ior.json", f"{rel}/ior.json", problems) if "ior.json" in files else None
            logs = sorted(self._list(path / "daemon", f"{rel}/daemon", problems)[0]) if "daemon" in dirs else []
            leaf.benchfs = {"ior": ior if isinstance(ior, dict) else None, "daemon_files": logs}
        if leaf.metadata is not None and not isinstance(leaf.metadata, dict):
            leaf.problems.append(Problem("unparsable", f"{rel}/{leaf.metadata_file}", "expected a JSON object"))
            leaf.metadata = None
        return leaf

    def _read_summary_and_stats(self, leaf: Leaf, path: Path, rel: str, files: dict, hosts: dict) -> None:
        sources = [("", path, files)] + [(h, path / h, hosts[h][0]) for h in hosts]
        for prefix, folder, names in sources:
            summaries = sorted((f for f in names if SUMMARY_RE.match(f)), key=_summary_rank)
            if summaries:
                name = summaries[0]
                sub = f"{prefix}/{name}" if prefix else name
                leaf.summary_file = sub
                leaf.summary = self._json(folder / name, f"{rel}/{sub}", leaf.problems)
                break
        for prefix, folder, names in sources:
            stats = sorted((f for f in names if PER_EPOCH_RE.match(f)), key=_rank_of)
            if stats:
                leaf.per_epoch_files = tuple(f"{prefix}/{s}" if prefix else s for s in stats)
                leaf.per_epoch = self._json(folder / stats[0], f"{rel}/{leaf.per_epoch_files[0]}", leaf.problems)
                break
        for attr in ("summary", "per_epoch"):
            value = getattr(leaf, attr)
            if value is not None and not isinstance(value, dict):
                file = leaf.summary_file if attr == "summary" else leaf.per_epoch_files[0]
                leaf.problems.append(Problem("unparsable", f"{rel}/{file}", "expected a JSON object"))
                setattr(leaf, attr, None)
        if isinstance(leaf.summary, dict):
            # Drop the bulky per-host dumps the rules never read (memory for 1,000s of leaves).
            leaf.summary.pop("host_cpuinfo", None)
            meminfo = leaf.summary.pop("host_meminfo", None)
            if isinstance(meminfo, dict) and "MemTotal" in meminfo:
                leaf.summary["host_meminfo"] = {"MemTotal": meminfo["MemTotal"]}

    def _read_cluster_info(self, leaf: Leaf, path: Path, rel: str, files: dict, dirs: dict) -> None:
        if "cluster_info.json" in files:
            candidate = "cluster_info.json"
        elif "collector-staging" in dirs and (path / "collector-staging" / "cluster_info.json").is_file():
            candidate = "collector-staging/cluster_info.json"
        else:
            return
        leaf.cluster_info_file = candidate
        data = self._shared_json(path / candidate, f"{rel}/{candidate}", leaf.problems, compact.cluster_info)
        leaf.cluster_info = data if isinstance(data, dict) else None

    def _read_config_dir(self, leaf: Leaf, path: Path, rel: str, dirs: dict, hosts: dict) -> None:
        places = [("", path, dirs)] + [(h, path / h, hosts[h][1]) for h in hosts]
        for prefix, folder, subdirs in places:  # noqa: B007 - the loop's last values are used below
            found = next((d for d in CONFIG_DIRS if d in subdirs), None)
            if found:
                break
        else:
            return
        cfg_rel = f"{prefix}/{found}" if prefix else found
        leaf.config_dir = cfg_rel
        cfg_files, _ = self._list(folder / found, f"{rel}/{cfg_rel}", leaf.problems)
        leaf.config_files = frozenset(cfg_files)
        base = folder / found
        if "overrides.yaml" in cfg_files:
            text = self._text(base / "overrides.yaml", f"{rel}/{cfg_rel}/overrides.yaml", leaf.problems)
            if text is not None:
                leaf.overrides = self._parsed(text, f"{rel}/{cfg_rel}/overrides.yaml", leaf.problems,
                                              parse_overrides)
        if "config.yaml" in cfg_files:
            text = self._text(base / "config.yaml", f"{rel}/{cfg_rel}/config.yaml", leaf.problems)
            if text is not None:
                leaf.config = self._parsed(text, f"{rel}/{cfg_rel}/config.yaml", leaf.problems, parse_config)
        if "hydra.yaml" in cfg_files:
            # Not parsed (no rule reads it); only checked to be a readable, non-empty file.
            try:
                size = (base / "hydra.yaml").lstat().st_size
                if size == 0:
                    leaf.problems.append(Problem("unparsable", f"{rel}/{cfg_rel}/hydra.yaml", "empty file"))
            except OSError as exc:
                leaf.problems.append(Problem("unreadable", f"{rel}/{cfg_rel}/hydra.yaml", exc.strerror or ""))

    # --- file loading -------------------------------------------------------------------------
    def _folder_fd(self, folder: Path) -> int | None:
        """A descriptor of `folder` opened below the root (safe_path), kept while files of the same
        folder are read: a leaf's files cost one open each instead of one per folder on the way."""
        if self._folder is not None and self._folder[0] == folder:
            return self._folder[1]
        self.close()
        try:
            fd = open_under(self.root, folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None                             # read the slow way: that names the problem
        self._folder = (folder, fd)
        return fd

    def close(self) -> None:
        if self._folder is not None:
            os.close(self._folder[1])
            self._folder = None

    def _bytes(self, path: Path, rel: str, problems: list, max_bytes: int | None = None) -> bytes | None:
        limit = min(self.limit, max_bytes or self.limit)
        fd = self._folder_fd(path.parent)
        data = None
        if fd is not None:
            with contextlib.suppress(ReadError):    # a symlink (read below, if it stays inside) or an error
                data = read_bytes(path, max_bytes=limit, dir_fd=fd)
        if data is None:
            try:
                # below the root at every depth: a symlinked folder on the way out is refused too
                data = read_bytes(path, max_bytes=limit, root=self.root)
            except ReadError as exc:
                problems.append(Problem(exc.kind, rel, exc.detail))
                return None
        if data.startswith(PLACEHOLDER):
            problems.append(Problem("placeholder", rel, "replaced by a 'PRUNED BY STAFF' placeholder"))
            return None
        return data

    def _json(self, path: Path, rel: str, problems: list):
        data = self._bytes(path, rel, problems)
        if data is None:
            return None
        try:
            return parse_json(data, rel)
        except ReadError as exc:
            problems.append(Problem(exc.kind, rel, exc.detail))
            return None

    def _shared_json(self, path: Path, rel: str, problems: list, reduce):
        """A JSON document through `reduce`; a file whose bytes were just read elsewhere in the tree
        gives the very same object (campaigns copy one cluster_info.json into every leaf)."""
        data = self._bytes(path, rel, problems)
        if data is None:
            return None
        key = self.shared.key(data)
        doc = self.shared.get(key)
        if doc is not None:
            return doc
        try:
            doc = reduce(parse_json(data, rel))
        except ReadError as exc:
            problems.append(Problem(exc.kind, rel, exc.detail))
            return None
        if isinstance(doc, dict):
            self.shared.put(key, doc)
        return doc

    def _parsed(self, text: str, rel: str, problems: list, parse):
        """parse(text) once for identical texts read one after another (the runs of a campaign share
        their config); a text that gave problems is parsed again, so every leaf names its own."""
        key = self.shared.key(f"{parse.__name__}\n{text}".encode())
        doc = self.shared.get(key)
        if doc is not None:
            return doc
        found: list = []
        doc = parse(text, rel, found)
        problems.extend(found)
        if doc is not None and not found:
            self.shared.put(key, doc)
        return doc

    def _text(self, path: Path, rel: str, problems: list) -> str | None:
        """A YAML file's text (only YAML is read as text), capped at YAML_MAX_BYTES."""
        data = self._bytes(path, rel, problems, YAML_MAX_BYTES)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem("unparsable", rel, f"not UTF-8 text: {exc}"))
            return None

    # --- grouping into workloads --------------------------------------------------------------
    def group(self) -> None:
        by_path: dict[str, Workload] = {}
        root_parts = self.root.parts
        for leaf in self.leaves:
            parts = root_parts + tuple(leaf.rel.split("/"))
            wl_parts, benchmark, model, command = _locate(parts, leaf)
            leaf.benchmark, leaf.command = benchmark, command
            wl_rel = "/".join(wl_parts[len(root_parts):]) or "."
            workload = by_path.get(wl_rel)
            if workload is None:
                workload = Workload(path=Path(*wl_parts), rel=wl_rel, benchmark=benchmark, model=model)
                _division(workload, parts)
                by_path[wl_rel] = workload
            elif benchmark not in BENCHMARKS:
                workload.benchmark = benchmark     # one leaf of an unknown benchmark: none of it is training
            workload.leaves.append(leaf)
        stamped = {leaf.timestamp is not None for leaf in self.leaves}
        self.tree.layout = {frozenset(): "unknown", frozenset({True}): "v3",
                            frozenset({False}): "v1"}.get(frozenset(stamped), "mixed")
        self._inherit_cluster_info()
        for workload in by_path.values():
            workload.leaves.sort(key=lambda leaf: leaf.sort_key)
            _identity(workload)
            self._results_json(workload)
        self._attach_reports(by_path)
        for rel, workload in list(by_path.items()):
            if _datagen_logs_only(workload):
                # v1.0 datagen logs kept in a folder of their own (`<workload>-gen/`): evidence, not a workload
                del by_path[rel]
                self.tree.skipped.append(f"{rel} (v1.0 datagen logs, not a workload)")
        self.tree.workloads = sorted(by_path.values(), key=lambda w: w.rel)

    def _inherit_cluster_info(self) -> None:
        """A cluster_info.json collected once per campaign may sit above the leaves (up to the root)."""
        found: dict[Path, tuple | None] = {}
        for leaf in self.leaves:
            if leaf.cluster_info is not None or leaf.cluster_info_file is not None:
                continue
            folder = leaf.path.parent
            chain = []
            while folder != self.root.parent and folder not in found:
                chain.append(folder)
                candidate = folder / "cluster_info.json"
                if candidate.is_file() and not candidate.is_symlink():
                    rel = candidate.relative_to(self.root).as_posix()
                    data = compact.cluster_info(self._json(candidate, rel, self.tree.problems))
                    found[folder] = (data, rel) if isinstance(data, dict) else None
                    break
                if folder == self.root:
                    found[folder] = None
                    break
                folder = folder.parent
            result = found.get(folder)
            for item in chain:
                found.setdefault(item, result)
            if result:
                leaf.cluster_info = result[0]
                # relative to the leaf, so rules can point at it like any leaf file
                leaf.cluster_info_file = os.path.relpath(self.root / result[1], leaf.path)

    def _results_json(self, workload: Workload) -> None:
        relative = {"training": "run/results.json", "checkpointing": "results.json"}.get(workload.benchmark)
        if relative is None or not workload.runs or workload.runs[0].timestamp is None:
            return
        target = workload.path / relative
        if target.is_file():
            workload.results_json_file = f"{workload.rel}/{relative}"
            data = self._json(target, workload.results_json_file, workload.problems)
            workload.results_json = data if isinstance(data, dict | list) else None

    def _attach_reports(self, by_path: dict) -> None:
        for rel, path in self.reports:
            candidates = [w for w in by_path.values()
                          if w.rel == rel or w.rel.startswith(rel + "/") or rel == "." or not rel
                          or any(leaf.rel == rel for leaf in w.leaves)]
            if not candidates:
                continue
            problems = candidates[0].problems
            data = self._json(path, f"{rel}/mlperf_storage_report.json" if rel else path.name, problems)
            if not isinstance(data, dict):
                continue
            overall = data.get("overall") if isinstance(data.get("overall"), dict) else {}
            if len(candidates) > 1:
                candidates = [w for w in candidates if w.model == overall.get("model")
                              and w.accelerator in (None, overall.get("accelerator"))]
            for workload in candidates:
                report_rel = f"{rel}/mlperf_storage_report.json" if rel else "mlperf_storage_report.json"
                # the nearest report wins over one further up
                if workload.report_file is None or len(report_rel) > len(workload.report_file):
                    workload.report, workload.report_file = data, report_rel


# --- helpers ------------------------------------------------------------------------------------
def _is_code_tree(name: str, files: dict, dirs: dict) -> bool:
    if name in SKIP_DIRS or CODE_IMAGE_RE.match(name) or CODE_MARKERS & (files.keys() | dirs.keys()):
        return True
    if name not in CODE_LIKE_NAMES or _has_markers(files, dirs):
        return False                   # a leaf that keeps its launch script beside DLIO's files is a leaf
    return (bool(CODE_FILES & files.keys()) or bool(SKIP_DIRS & dirs.keys())
            or any(f.endswith(CODE_SUFFIXES) for f in files))


def _has_markers(files: dict, dirs: dict) -> bool:
    if any(d in dirs for d in CONFIG_DIRS):
        return True
    return any(SUMMARY_RE.match(f) or PER_EPOCH_RE.match(f) or OUTPUT_RE.match(f) or METADATA_RE.match(f)
               for f in files)


def _summary_rank(name: str):
    """summary.json first, then rank-prefixed ones by rank, then anything else."""
    if name == "summary.json":
        return (0, 0, name)
    head = name.split("_", 1)[0]
    return (1, int(head), name) if head.isdigit() else (2, 0, name)


def _rank_of(name: str):
    match = PER_EPOCH_RE.match(name)
    return int(match.group(1)) if match and match.group(1) else -1


def _locate(parts: tuple, leaf: Leaf):
    """(workload path parts, benchmark, model, command) for a leaf from its absolute path parts."""
    unknown = _unknown_benchmark(parts, leaf)
    if unknown is not None:
        return unknown
    bench_idx = max((i for i, p in enumerate(parts[:-1]) if p in BENCHMARKS), default=None)
    if bench_idx is not None:
        benchmark = parts[bench_idx]
        tail = parts[bench_idx + 1:]
        depth = 2 if benchmark == "vector_database" else 1
        if len(tail) > depth:
            model = "/".join(tail[:depth])
            wl = parts[:bench_idx + 1 + depth]
            rest = tail[depth:-1]
            if rest and rest[0] in COMMANDS:
                command = rest[0]
            elif benchmark == "checkpointing":
                command = "run"
            else:
                command = tail[depth] if tail[depth] in COMMANDS else "run"
            return wl, benchmark, model, command
    # v1.0 style: the workload is the folder holding the runs (skipping a `runs/` level)
    parent = parts[:-1]
    command = "datagen" if parts[-1] == "datagen" or _generates_only(leaf) else "run"
    if parent and parent[-1] in COMMANDS:
        command = parent[-1]
        parent = parent[:-1]
    elif parent and parent[-1].lower() == "runs":
        parent = parent[:-1]
    recorded = _recorded_benchmark(leaf)
    if recorded in BENCHMARKS:
        return parent, recorded, None, command
    metric = leaf.metric
    benchmark = "checkpointing" if any(k.startswith(("save_", "load_")) for k in metric) else "training"
    return parent, benchmark, None, command


def _recorded_benchmark(leaf: Leaf) -> str | None:
    """The `benchmark_type` the leaf's metadata records (the tool's own word for what ran); an enum
    dump such as `BENCHMARK_TYPES.training` (older tools' object dumps) counts as its member name."""
    value = (leaf.metadata or {}).get("benchmark_type") if isinstance(leaf.metadata, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    member = value.strip().rsplit(".", 1)[-1].lower()
    return member if member in BENCHMARKS else value.strip()


def _model_like(name: str) -> bool:
    """A v1.0 workload folder (`unet3d_h100`, `cosmoflow`) sits where v3.0 puts `<benchmark>`."""
    return name.lower().startswith(MODEL_PREFIXES)


def _unknown_benchmark(parts: tuple, leaf: Leaf):
    """_locate's answer for a leaf of a benchmark the verifier does not know, else None: its metadata
    names another `benchmark_type`, or it is a timestamped leaf under
    <division>/<org>/results/<system>/<benchmark>/ whose <benchmark> is none of BENCHMARKS. Judging
    such a leaf as training would pass or fail it by rules that are not its own."""
    recorded = _recorded_benchmark(leaf)
    division = max((i for i, p in enumerate(parts) if p.lower() in ("closed", "open")), default=None)
    position = division + 4 if division is not None and parts[division + 2:division + 3] == ("results",) else None
    if recorded is not None and recorded not in BENCHMARKS:
        benchmark = recorded
    elif (position is not None and position < len(parts) - 1 and leaf.timestamp is not None
          and parts[position] not in BENCHMARKS and not _model_like(parts[position])):
        benchmark = parts[position]
    else:
        return None
    if position is None or position >= len(parts) - 1:
        command = parts[-2] if parts[-2] in COMMANDS else "run"
        return parts[:-2] if parts[-2] in COMMANDS else parts[:-1], benchmark, None, command
    tail = parts[position + 1:-1]
    command = next((p for p in tail if p in COMMANDS), "run")
    model = tail[0] if tail and tail[0] not in COMMANDS else None
    return parts[:position + 1 + (model is not None)], benchmark, model, command


def _datagen_logs_only(workload: Workload) -> bool:
    """Untimestamped (v1.0-style) leaves that all only generated data and hold no DLIO summary."""
    leaves = workload.leaves
    return bool(leaves) and all(leaf.command == "datagen" and leaf.timestamp is None and leaf.summary is None
                                for leaf in leaves)


def _generates_only(leaf: Leaf) -> bool:
    """A DLIO invocation that generated data and did not train (DLIO 2.0.0 datagen leaves)."""
    generate, train = leaf.param("workflow.generate_data"), leaf.param("workflow.train")
    return generate in (True, "True", "true") and train in (False, "False", "false")


def _division(workload: Workload, parts: tuple) -> None:
    idx = max((i for i, p in enumerate(parts) if p.lower() in ("closed", "open")), default=None)
    if idx is None:
        return
    workload.division = parts[idx].lower()
    if idx + 1 < len(parts):
        workload.org = parts[idx + 1]
    if idx + 3 < len(parts) and parts[idx + 2] == "results":
        workload.system = parts[idx + 3]


def _identity(workload: Workload) -> None:
    """Model and accelerator: from the leaves' own records first, then the folder names."""
    models = [leaf.model for leaf in workload.leaves if leaf.model]
    accels = [leaf.accelerator for leaf in workload.leaves if leaf.accelerator]
    if workload.model is None:
        if models:
            workload.model = models[0]
        else:
            name = workload.path.name
            workload.model = name.split("_", 1)[0] if "_" in name else name
    if accels:
        workload.accelerator = max(sorted(set(accels)), key=accels.count)
    elif workload.benchmark == "training":
        name = workload.path.name
        if "_" in name:
            workload.accelerator = name.rsplit("_", 1)[1]
        elif workload.path.parent.name == workload.model or name in ("h100", "a100", "b200", "mi355"):
            workload.accelerator = name
            if workload.model == name:
                workload.model = workload.path.parent.name
