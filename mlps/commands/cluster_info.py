"""`mlps cluster-info`: one cluster view (cluster_info.json) from host-facts JSON files."""

from __future__ import annotations

import json

from mlps import cluster as cluster_model


def register(sub) -> None:
    parser = sub.add_parser(
        "cluster-info", help="build cluster_info.json from host facts and print a per-host table",
        description="Fold mlps-host-facts/1 documents into hosts (one per machine_id, never per rank), "
                    "total memory and cores, and report hosts that differ from the others.")
    parser.add_argument("facts", nargs="+", metavar="FACTS_JSON",
                        help="host-facts files (one document, or a list of them, per file)")
    parser.add_argument("--out", metavar="FILE", help="write cluster_info.json here (atomically)")
    parser.add_argument("--data-path", metavar="PATH", help="data directory whose mount is compared across hosts")
    parser.add_argument("--results-path", metavar="PATH", help="results directory (recorded; watched for drift)")
    parser.add_argument("--interface", metavar="IFACE",
                        help="network interface whose MTU is compared (default: every non-lo interface "
                             "present on all hosts)")
    parser.add_argument("--start", metavar="FILE",
                        help="an earlier cluster_info.json of the same cluster: also report drift since then")
    parser.add_argument("--json", action="store_true", help="print the cluster info document instead of a table")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    docs = cluster_model.load_facts_files(args.facts)
    cluster = cluster_model.build_cluster(docs, data_path=args.data_path, results_path=args.results_path,
                                          interface=args.interface)
    drift = []
    if args.start:
        drift = cluster_model.drift_findings(cluster_model.read_cluster_info(args.start), cluster)
    if args.out:
        cluster_model.write_cluster_info(args.out, cluster)
    if args.json:
        doc = cluster.to_dict()
        if args.start:
            doc["drift"] = [cluster_model.finding_to_dict(f) for f in drift]
        print(json.dumps(doc, indent=1))
        return 0
    print(cluster_model.format_host_table(cluster))
    for finding in [*cluster.findings, *drift]:
        print(finding.line())
    if args.out:
        print(f"wrote {args.out}")
    return 0
