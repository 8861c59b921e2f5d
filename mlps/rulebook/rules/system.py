"""Cluster and system rules (rule book §3.3.3-§3.3.7, §3.4): rank placement, memory per accelerator, node
consistency, data vs results filesystems, one shared data filesystem."""

from __future__ import annotations

import math
import posixpath

from mlps import cluster as cluster_model
from mlps.natural_order import natural_items
from mlps.plan import datasize
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import GIB, cluster_of, host_figures, ranks_per_host, ref

NODE_RATIO_LIMIT = cluster_model.SPREAD_LIMIT
MIN_SINGLE_HOST_ACCELERATORS = 4


def _distinct_runs(ctx):
    """One leaf per distinct (accelerators, hosts) layout: the runs of a result normally share one."""
    seen, out = set(), []
    for leaf in ctx.runs:
        key = (leaf.num_accelerators, leaf.num_hosts, tuple(sorted((ranks_per_host(leaf) or {}).items())))
        if key not in seen:
            seen.add(key)
            out.append(leaf)
    return out


class AccelEqual(Rule):
    id = "SYS-ACCEL-EQUAL"
    section = "3.3.6"
    description = "training runs the same number of simulated accelerators on every host"
    profiles = ("closed", "open", "preflight")

    def check(self, ctx):
        out = []
        for leaf in _distinct_runs(ctx):
            placement = ranks_per_host(leaf)
            accels, hosts = leaf.num_accelerators, leaf.num_hosts
            if placement:
                if len(set(placement.values())) > 1:
                    out.append(self.finding("hosts run different numbers of ranks", expected="equal counts",
                                            actual=placement, evidence=ref(leaf, leaf.metadata_file),
                                            fix="choose a number of accelerators divisible by the number of hosts"))
                continue
            if not accels or not hosts:
                out.append(self.finding("cannot check the placement: no accelerator or host count",
                                        outcome=Outcome.WARNING, evidence=leaf.rel,
                                        missing=None if leaf.summary_file else ref(leaf, "summary.json")))
                continue
            if accels % hosts:
                split = datasize.split_accelerators(accels, hosts) if accels >= hosts else None
                out.append(self.finding(f"{accels} accelerators cannot be split evenly over {hosts} hosts",
                                        expected=f"a multiple of {hosts}", actual=split or accels,
                                        evidence=ref(leaf, leaf.summary_file),
                                        fix="choose a number of accelerators divisible by the number of hosts"))
        return out


class HostRamPerAccel(Rule):
    id = "SYS-HOST-RAM-PER-ACCEL"
    section = "3.3.3"
    description = "the smallest host has at least 0.5 GiB of memory per simulated accelerator it runs"
    severity = Outcome.WARNING
    profiles = ("closed", "open", "preflight")

    def check(self, ctx):
        out = []
        for leaf in _distinct_runs(ctx):
            figures = host_figures(leaf)
            accels, hosts = leaf.num_accelerators, leaf.num_hosts or 1
            if not accels or not figures.total_memory_bytes:
                continue
            placement = ranks_per_host(leaf)
            ranks = max(placement.values()) if placement else math.ceil(accels / hosts)
            if figures.memory_per_host:
                smallest = min(figures.memory_per_host.values())
            else:
                smallest = figures.total_memory_bytes / hosts      # Σ memory / hosts: DLIO's slots are not per host
            needed = datasize.host_memory_needed(ranks)
            if smallest < needed:
                out.append(self.finding(
                    f"{ranks} accelerators on a host with {smallest / GIB:.2f} GiB of memory",
                    expected=f">= {needed / GIB:.2f} GiB", actual=round(smallest / GIB, 3),
                    evidence=figures.source, fix="use fewer simulated accelerators per host or more memory"))
        return out


class SingleHostAccel(Rule):
    id = "TRAIN-SINGLEHOST-ACCEL"
    section = "3.3.3"
    description = "a single-host training result uses at least 4 simulated accelerators (tool threshold)"
    severity = Outcome.WARNING

    def check(self, ctx):
        for leaf in ctx.measured:
            if leaf.num_hosts == 1 and leaf.num_accelerators and leaf.num_accelerators < MIN_SINGLE_HOST_ACCELERATORS:
                return [self.finding(f"single host with {leaf.num_accelerators} simulated accelerators",
                                     expected=f">= {MIN_SINGLE_HOST_ACCELERATORS}", actual=leaf.num_accelerators,
                                     evidence=ref(leaf, leaf.summary_file),
                                     fix="submit the largest accelerator count that still meets AU")]
        return []


class NodeConsistency(Rule):
    id = "SYS-NODE-CONSISTENCY"
    section = "3.3.7"
    description = f"per-host memory and core counts differ by at most {NODE_RATIO_LIMIT}x (max/min)"
    severity = Outcome.WARNING
    benchmarks = ("training", "checkpointing")
    profiles = ("closed", "open", "preflight")

    def check(self, ctx):
        out = []
        for leaf in _distinct_runs(ctx)[:1]:
            cluster = cluster_of(leaf)
            if cluster is not None:
                # the cluster model owns the comparison of host facts (memory, cores, CPU, kernel, MTU...)
                for item in cluster_model.consistency_findings(cluster):
                    if item.rule_id == self.id:
                        out.append(self.finding(item.message, outcome=item.outcome, expected=item.expected,
                                                actual=item.actual, host=item.host, fix=item.fix,
                                                evidence=ref(leaf, leaf.cluster_info_file)))
                continue
            figures = host_figures(leaf)
            for what, values in (("memory", figures.memory_per_host), ("cores", figures.cores_per_host)):
                if not values or len(values) < 2 or min(values.values()) <= 0:
                    continue
                ratio = max(values.values()) / min(values.values())
                if ratio > NODE_RATIO_LIMIT:
                    out.append(self.finding(f"host {what} differs {ratio:.2f}x between the largest and smallest host",
                                            expected=f"<= {NODE_RATIO_LIMIT}", actual=round(ratio, 3),
                                            evidence=figures.source, fix="use like client hosts in one system"))
        return out


def _paths(leaf):
    """(data path, results path) the run used, from fs_separation.json or metadata args."""
    sep = leaf.fs_separation if isinstance(leaf.fs_separation, dict) else {}
    meta = leaf.metadata or {}
    args = meta.get("args") if isinstance(meta.get("args"), dict) else {}
    data = sep.get("data_or_chkpt_path") or args.get("data_dir") or args.get("checkpoint_folder")
    results = sep.get("results_path") or args.get("results_dir")
    return data, results


def _cluster_same_fs(leaf, data, results):
    """({host: True when the data and results paths sit on one mount}, data, results), from
    cluster_info.json (its own data_path/results_path when the run names none)."""
    cluster = cluster_of(leaf)
    if cluster is None:
        return {}, data, results
    data, results = data or cluster.data_path, results or cluster.results_path
    verdicts = {}
    for host in cluster.hosts:
        one, two = host.path_mount(data), host.path_mount(results)
        if one and two:
            verdicts[host.hostname] = (one["device"], one["mountpoint"]) == (two["device"], two["mountpoint"])
    return verdicts, data, results


class FsSeparation(Rule):
    id = "SYS-FS-SEPARATION"
    section = "3.4.2 / 4.4.2"
    description = "data (or checkpoint) directory and results directory are on different filesystems"
    editions = ("2.0", "3.0")
    choice = ("evidence: fs_separation.json, else cluster_info.json path facts; no evidence in any run leaf is one "
              "WARNING per workload (as the v3.0 round did); v1.0 trees carry no such evidence: not applied")
    benchmarks = ("training", "checkpointing")
    profiles = ("closed", "open", "preflight")

    def check(self, ctx):
        out, checked = [], 0
        for leaf in ctx.runs:
            sep = leaf.fs_separation
            if isinstance(sep, dict) and isinstance(sep.get("same_filesystem"), bool):
                checked += 1
                if sep["same_filesystem"]:
                    out.append(self.finding("data and results are on the same filesystem",
                                            expected="different filesystems", actual=sep.get("results_realpath"),
                                            evidence=ref(leaf, "fs_separation.json"),
                                            host=sep.get("probed_by_host"),
                                            fix="put the results directory on another filesystem than the data"))
                continue
            verdicts, data, results = _cluster_same_fs(leaf, *_paths(leaf))
            if verdicts:
                checked += 1
                for host, same in natural_items(verdicts):
                    if same:
                        out.append(self.finding(f"{data} and {results} are on the same filesystem",
                                                expected="different filesystems", actual="same device", host=host,
                                                evidence=ref(leaf, leaf.cluster_info_file)))
        if checked == 0 and ctx.runs:
            first = ctx.runs[0]
            out.append(self.finding("no evidence that data and results are on different filesystems",
                                    outcome=Outcome.WARNING, evidence=ctx.workload.rel,
                                    missing=ref(first, "fs_separation.json"),
                                    fix="keep fs_separation.json (or cluster_info.json with path facts) in the leaf"))
        return out


class PathArgs(Rule):
    id = "SYS-PATH-ARGS"
    section = "3.4.1 / 4.4.1"
    description = "data (or checkpoint) path and results path are both set and different"
    benchmarks = ("training", "checkpointing")
    profiles = ("closed", "open", "preflight")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            data, results = _paths(leaf)
            if data and results and posixpath.normpath(str(data)) == posixpath.normpath(str(results)):
                out.append(self.finding("data path and results path are the same", expected="different paths",
                                        actual=data, evidence=leaf.rel,
                                        fix="give the benchmark separate data and results directories"))
        return out


class SharedFilesystem(Rule):
    id = "SYS-SHARED-FS"
    section = "3.3.5"
    description = "multi-host training: every host sees the same data directory (one sentinel, one inode)"
    profiles = ("closed", "open", "preflight")

    editions = ("2.0", "3.0")
    choice = ("mlpstorage's probe compares (st_dev, st_ino); NFS gives each client its own st_dev for one export, "
              "so only the sentinel's presence and its inode decide (INVALID); a differing st_dev is INFO; "
              "no probe: WARNING; v1.0 trees carry no probe: not applied")
    def check(self, ctx):
        multi = [leaf for leaf in ctx.runs + ctx.workload.by_command("datagen") if (leaf.num_hosts or 1) > 1]
        if not multi:
            return []
        probes = [(leaf, leaf.shared_fs) for leaf in multi if leaf.shared_fs is not None]
        if not probes:
            return [self.finding("multi-host run without evidence that all hosts read one shared data directory",
                                 outcome=Outcome.WARNING, evidence=ctx.workload.rel,
                                 missing=ref(multi[0], "shared_fs.json"),
                                 fix="keep the shared-filesystem probe (shared_fs.json) in the leaf")]
        out, devices_noted = [], False
        for leaf, probe in probes:
            hosts = _probe_hosts(probe)
            failed = {h: r.get("error") for h, r in hosts.items() if r.get("error") or r.get("st_ino") is None}
            inodes = {r.get("st_ino") for h, r in hosts.items() if h not in failed}
            devices = {r.get("st_dev") for h, r in hosts.items() if h not in failed}
            evidence = ref(leaf, "shared_fs.json")
            if not hosts:
                out.append(self.finding("shared_fs.json lists no hosts", evidence=evidence))
            for host, error in natural_items(failed):
                out.append(self.finding(f"host does not see the data-directory sentinel: {error or 'no inode'}",
                                        host=host, evidence=evidence,
                                        fix="mount the same data filesystem on every host"))
            if len(inodes) > 1:
                out.append(self.finding("hosts see different files behind the data directory", expected=1,
                                        actual=sorted(map(str, inodes)), evidence=evidence,
                                        fix="mount the same data filesystem on every host"))
            elif len(devices) > 1 and not devices_noted:
                devices_noted = True
                out.append(self.finding("hosts report different st_dev for the same inode (usual for NFS)",
                                        outcome=Outcome.INFO, actual=sorted(map(str, devices)), evidence=evidence))
        return out


def _probe_hosts(probe) -> dict:
    hosts = probe.get("hosts") if isinstance(probe, dict) else probe
    if isinstance(hosts, dict):
        return {str(h): r for h, r in hosts.items() if isinstance(r, dict)}
    out = {}
    for index, item in enumerate(hosts if isinstance(hosts, list) else ()):
        if isinstance(item, dict):
            out[str(item.get("host") or item.get("hostname") or index)] = item
    return out



class MemoryMeasured(Rule):
    id = "SYS-MEM-MEASURED"
    section = "3.1.2"
    description = "client memory is measured MemTotal on every host, counted once per host"
    severity = Outcome.WARNING
    benchmarks = ("training", "checkpointing")
    profiles = ("closed", "open", "preflight")
    choice = ("with cluster_info.json the cluster model's memory findings (unknown MemTotal, hosts sharing a "
              "machine_id) are reported; without it DLIO's summary sum is used and zero-padded per-slot "
              "arrays are noted as INFO (their sum is right, their slots are not hosts)")

    def check(self, ctx):
        out = []
        for leaf in _distinct_runs(ctx)[:1]:
            cluster = cluster_of(leaf)
            if cluster is not None:
                items = [f for f in cluster.findings if f.extra.get("check") == "shared_machine_id"]
                items += cluster_model.consistency_findings(cluster)
                for item in items:
                    if item.rule_id == self.id:
                        out.append(self.finding(item.message, outcome=item.outcome, expected=item.expected,
                                                actual=item.actual, host=item.host, fix=item.fix,
                                                evidence=ref(leaf, leaf.cluster_info_file)))
                continue
            slots = (leaf.summary or {}).get("host_memory_GB")
            if isinstance(slots, list) and len(slots) > 1 and 0 in slots:
                out.append(self.finding("DLIO's host_memory_GB has empty slots (ranks not placed in blocks); "
                                        "only its sum is used", outcome=Outcome.INFO, actual=slots,
                                        evidence=ref(leaf, leaf.summary_file)))
        return out
