"""BenchFS + IOR (an ad-hoc file system started for the job, measured with IOR): not an MLPerf Storage
benchmark, so no rule book section covers its figures. These rules are mlps evidence: the results are
OPEN whatever folder they sit in (the rule book's scope, §1.2: only its benchmarks can be CLOSED), and a
leaf is complete when it holds IOR's JSON summary, its logs, the configuration the daemons ran with and
every daemon rank's log; a stop that had to kill daemons, or a rank without its shutdown line, is said.

What the rules read from a leaf `benchfs/ior/<ts>/`: `ior.json` (IOR's `-O summaryFormat=JSON`: a
"summary" list, one entry per operation), the names under `daemon/` and the metadata
`benchfs_<ts>_metadata.json` (`servers.np`, `daemons.{stop_forced, shutdown_missing, left_pids}`).
"""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import NOT_RESULTS, PROFILES, Rule
from mlps.rulebook.rules._evidence import ref

BENCHFS = ("benchfs",)
SCOPE = "1.2"


def _meta(leaf) -> dict | None:
    return leaf.metadata if isinstance(leaf.metadata, dict) else None


def _results(ctx) -> list:
    """The leaves that claim to be results (a leaf the campaign recorded as failed is LEAF-STATUS's)."""
    return [leaf for leaf in ctx.workload.leaves if (_meta(leaf) or {}).get("status") not in NOT_RESULTS]


class BenchfsOpen(Rule):
    id = "BENCHFS-OPEN"
    section = SCOPE
    description = ("mlps evidence: BenchFS with IOR is not an MLPerf Storage benchmark; its results are OPEN "
                   "wherever they are kept, never CLOSED")
    severity = Outcome.OPEN
    benchmarks = BENCHFS
    profiles = PROFILES

    def check(self, ctx):
        return [self.finding("BenchFS + IOR results are not MLPerf Storage results: compared with OPEN results only",
                             expected="an MLPerf Storage benchmark for CLOSED", actual="benchfs/ior",
                             evidence=ctx.workload.rel)]


class BenchfsFiles(Rule):
    id = "BENCHFS-FILES"
    section = SCOPE
    description = ("mlps evidence: every BenchFS run leaf holds its metadata, IOR's JSON summary (a \"summary\" "
                   "entry per operation), IOR's stdout/stderr, the rendered benchfs.toml and every daemon "
                   "rank's log (daemon/rank_<N>.log for N below servers.np)")
    benchmarks = BENCHFS
    profiles = PROFILES

    def check(self, ctx):
        out = []
        for leaf in _results(ctx):
            meta, found = _meta(leaf), leaf.benchfs or {}
            if meta is None:
                out.append(self.finding(f"{leaf.rel}: no metadata, so the daemon ranks cannot be counted",
                                        outcome=Outcome.UNCHECKED, evidence=leaf.rel,
                                        missing=f"benchfs_{leaf.name}_metadata.json",
                                        fix="keep the leaf as the campaign wrote it"))
                continue
            missing = [name for name in ("ior.stdout.log", "ior.stderr.log", "benchfs.toml") if name not in leaf.files]
            ior = found.get("ior")
            if not (isinstance(ior, dict) and isinstance(ior.get("summary"), list) and ior["summary"]):
                missing.insert(0, "ior.json with a summary entry per operation")
            np = (meta.get("servers") or {}).get("np")
            logs = set(found.get("daemon_files") or ())
            if isinstance(np, int) and not isinstance(np, bool):
                missing += [f"daemon/rank_{r}.log" for r in range(np) if f"rank_{r}.log" not in logs]
            else:
                missing.append("servers.np in the metadata")
            if missing:
                out.append(self.finding(f"{leaf.rel}: missing {', '.join(missing[:6])}"
                                        f"{' ...' if len(missing) > 6 else ''}", expected="every file of the run",
                                        actual=f"{len(missing)} missing", evidence=ref(leaf, leaf.metadata_file),
                                        fix="keep every file the campaign wrote in the leaf; run the point again"))
        return out


class BenchfsShutdown(Rule):
    id = "BENCHFS-SHUTDOWN"
    section = SCOPE
    description = ("mlps evidence: the daemons of every BenchFS run stopped on SIGTERM with every rank's shutdown "
                   "line in its log (WARNING when some were killed or a line is missing; INVALID when a daemon "
                   "was left running)")
    severity = Outcome.WARNING
    benchmarks = BENCHFS
    profiles = PROFILES

    def check(self, ctx):
        out = []
        for leaf in _results(ctx):
            daemons = (_meta(leaf) or {}).get("daemons")
            if not isinstance(daemons, dict):
                continue  # BENCHFS-FILES names a leaf without metadata
            evidence = ref(leaf, leaf.metadata_file)
            if daemons.get("left_pids"):
                out.append(self.finding(f"{leaf.rel}: daemons were left running after the stop: {daemons['left_pids']}",
                                        outcome=Outcome.INVALID, expected="no daemon left", evidence=evidence,
                                        actual=str(daemons["left_pids"])[:200],
                                        fix="stop them by hand and run the point again"))
            if daemons.get("stop_forced") or daemons.get("shutdown_missing"):
                out.append(self.finding(
                    f"{leaf.rel}: the daemons did not all stop gracefully (killed after the stop timeout: "
                    f"{bool(daemons.get('stop_forced'))}; ranks without their shutdown line: "
                    f"{daemons.get('shutdown_missing') or []})", expected="every rank stopped on SIGTERM",
                    actual="forced" if daemons.get("stop_forced") else "shutdown lines missing", evidence=evidence,
                    fix="see daemon/rank_<N>.log; raise mlps_benchfs_stop_timeout or check "
                        "mlps_benchfs_shutdown_pattern"))
        return out
