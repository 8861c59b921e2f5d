"""`mlps report` end to end on synthetic campaign trees: the files, what they hold, hand-written
files left alone with a diff, a second report that changes nothing, bad input, progress."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlps import cli
from mlps.cluster import build_cluster, write_cluster_info
from mlps.report import svg
from mlps.report.files import MARKER
from mlps.results.models import Leaf
from mlps.results.reader import read_tree
from mlps.results.series import clock_offset, decimate, load_leaf, phase_label, series_files, thin
from mlps_module_utils.mlps_timeseries import rates, read_jsonl
from tests.unit.test_report_builders import TZ_OFFSET, build_campaign_tree, unix

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = "closed/Org/systems"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    return build_campaign_tree(tmp_path_factory.mktemp("campaign"))


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(["report", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_writes_every_file(campaign, tmp_path, capsys):
    code, out, _err = run(capsys, campaign, "--out", tmp_path / "r")
    assert code == 0, out
    assert "verdict CLOSED" in out and "6 with time series" in out
    for name in ("results.json", "results.csv", "verdict.json", "report.html",
                 "closed/Org/results/results.json", "closed/Org/results/results.csv",
                 "closed/Org/submission.yaml", f"{SYSTEMS}/sys1.yaml"):
        assert (tmp_path / "r" / name).is_file(), name
    verdict = json.loads((tmp_path / "r/verdict.json").read_text())
    assert verdict["schema"] == "mlps-verdict/1" and verdict["verdict"] == "CLOSED"
    page = (tmp_path / "r/report.html").read_text()
    assert page.count("<svg") == 2 + 5          # throughput, AU per epoch, five time-series charts
    assert 'id="verdict">CLOSED<' in page and "TRAIN-VARIANCE" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")   # nothing to fetch
    assert "<script" not in page and "<link" not in page


def test_submission_lists_exactly_the_leaves(campaign, tmp_path, capsys):
    run(capsys, campaign, "--out", tmp_path)
    text = (tmp_path / "closed/Org/submission.yaml").read_text()
    assert text.startswith(MARKER)
    manifest = yaml.safe_load(text)
    assert manifest["schema"] == "mlps-submission-manifest/1" and manifest["division"] == "CLOSED"
    listed = {leaf for item in manifest["results"] for leaf in item["leaves"]}
    tree = read_tree(campaign)
    assert listed == {leaf.rel.removeprefix("closed/Org/") for leaf in tree.leaves}
    assert all((campaign / "closed/Org" / leaf).is_dir() for leaf in listed)


def test_system_description_from_the_campaigns_cluster_info(campaign, tmp_path, capsys):
    run(capsys, campaign, "--out", tmp_path)
    doc = yaml.safe_load((tmp_path / SYSTEMS / "sys1.yaml").read_text())
    clients = doc["clients"]
    assert clients["count"] == 2 and [n["hostname"] for n in clients["nodes"]] == ["h1", "h2"]
    node = clients["nodes"][0]
    assert node["cpu"] == {"model": "AMD EPYC 7543 32-Core Processor", "architecture": "x86_64", "sockets": 2,
                           "physical_cores": 64, "logical_cpus": 128}
    assert node["memory_gib"] == 64.0 and node["nics"] == [{"name": "eth0", "mtu": 9000}]
    assert node["os"].startswith("Debian") and node["kernel"] == "6.1.0-18-amd64"
    assert node["data_mount"]["fstype"] == "nfs4" and node["data_mount"]["size_tib"] == 100.0
    assert doc["solution"]["access_protocol"] == "NFS"
    for field in ("name", "rack_units", "usable_capacity_tib", "cost", "availability"):
        assert doc["solution"][field].startswith("TODO-FILL-IN:"), field


def test_second_report_changes_nothing(campaign, tmp_path, capsys):
    run(capsys, campaign, "--out", tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    code, out, _ = run(capsys, campaign, "--out", tmp_path)
    assert code == 0 and "files changed: 0" in out
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before


def test_hand_written_system_file_is_kept_and_diffed(tmp_path, capsys):
    root = build_campaign_tree(tmp_path / "tree", runs=2)
    hand = root / SYSTEMS / "sys1.yaml"
    hand.parent.mkdir(parents=True)
    hand.write_text("solution:\n  name: Acme Flash 9000\n  rack_units: 4\nclients:\n  count: 3\n")
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, root, "--out", out_dir)
    assert code == 0
    assert hand.read_text().startswith("solution:")            # untouched
    generated = out_dir / SYSTEMS / "sys1.generated.yaml"
    assert generated.is_file() and not (out_dir / SYSTEMS / "sys1.yaml").exists()
    diff = (out_dir / SYSTEMS / "sys1.generated.diff").read_text()
    assert "~ clients.count: hand-written 3, from facts 2" in diff
    assert "~ solution.name: hand-written 'Acme Flash 9000'" in diff
    assert "+ clients.nodes[0].cpu.model: 'AMD EPYC 7543 32-Core Processor'" in diff
    assert f"differences between hand-written {hand}" in out and "clients.count" in out
    row = json.loads((out_dir / "results.json").read_text())[0]
    assert row["Name"] == "Acme Flash 9000" and row["RU's"] == 4   # the table shows what the submitter wrote


def test_hand_written_file_in_the_output_is_never_overwritten(tmp_path, capsys):
    root = build_campaign_tree(tmp_path / "tree", runs=2)
    run(capsys, root, "--out", root)                            # in place: files land in the tree
    target = root / SYSTEMS / "sys1.yaml"
    edited = target.read_text().split("\n", 1)[1].replace("count: 2", "count: 2  # checked")
    target.write_text(edited)                                   # a person edited it and removed the marker
    code, out, _ = run(capsys, root, "--out", root)
    assert code == 0 and target.read_text() == edited
    assert f"kept      {target} (hand-written" in out
    assert (root / SYSTEMS / "sys1.generated.yaml").read_text().startswith(MARKER)


def test_system_from_real_facts_of_three_hosts(tmp_path, capsys):
    facts_out = subprocess.run([sys.executable, str(ROOT / "module_utils/mlps_procfs.py"), "--path", str(tmp_path)],
                               capture_output=True, text=True, check=True, timeout=60)
    real = json.loads(facts_out.stdout)
    docs = []
    for name in ("h1", "h2", "h3"):
        doc = json.loads(facts_out.stdout)
        doc["hostname"], doc["machine_id"] = name, f"id-{name}"
        docs.append(doc)
    info = tmp_path / "cluster_info.json"
    write_cluster_info(info, build_cluster(docs, data_path=str(tmp_path)))
    root = build_campaign_tree(tmp_path / "tree", runs=2, cluster_info=False)
    code, _out, _ = run(capsys, root, "--out", tmp_path / "out", "--system-from", info)
    assert code == 0
    doc = yaml.safe_load((tmp_path / "out" / SYSTEMS / "sys1.yaml").read_text())
    nodes = doc["clients"]["nodes"]
    assert [n["hostname"] for n in nodes] == ["h1", "h2", "h3"] and doc["clients"]["facts_from"] == "--system-from"
    summary = real["cpuinfo"]["summary"]
    assert nodes[0]["cpu"]["model"] == summary["model"]
    assert nodes[0]["cpu"]["logical_cpus"] == summary["logical_cpus"]
    assert nodes[0]["memory_gib"] == round(real["meminfo"]["MemTotal"] / 2**30, 1)
    assert nodes[0]["kernel"] == real["kernel"]["release"]
    assert nodes[0]["data_mount"]["mountpoint"] == real["paths"][str(tmp_path)]["mountpoint"]


def test_without_facts_the_clients_are_a_placeholder(tmp_path, capsys):
    root = build_campaign_tree(tmp_path / "tree", runs=2, cluster_info=False)
    run(capsys, root, "--out", tmp_path / "out")
    doc = yaml.safe_load((tmp_path / "out" / SYSTEMS / "sys1.yaml").read_text())
    assert doc["clients"]["nodes"].startswith("TODO-FILL-IN: no host facts found")


@pytest.mark.parametrize(("argv", "code", "text"), [
    (["/nonexistent/results"], 4, "no such directory"),
    (["{empty}"], 4, "no result leaves found"),
    (["{tree}", "--html", "../x.html"], 2, "expected a file name"),
    (["{tree}", "--system-from", "/nonexistent/ci.json"], 2, "no such cluster info file"),
])
def test_bad_input_is_one_line_and_an_exit_code(campaign, tmp_path, capsys, argv, code, text):
    (tmp_path / "empty").mkdir()
    argv = [a.format(empty=tmp_path / "empty", tree=campaign) for a in argv]
    got, _out, err = run(capsys, *argv, "--out", tmp_path / "out")
    assert got == code
    assert text in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_progress_bar_only_when_asked_or_on_a_terminal(campaign, tmp_path, capsys):
    _, _, err = run(capsys, campaign, "--out", tmp_path)
    assert "leaves" not in err
    _, _, err = run(capsys, campaign, "--out", tmp_path, "--progress")
    assert err.rstrip().endswith("16/16 leaves") and "[" + "#" * 30 + "]" in err


# --- time series ----------------------------------------------------------------------------------
def test_series_offset_puts_epochs_inside_the_run(campaign):
    leaf = read_tree(campaign).workloads[0].runs[1]
    data = load_leaf(leaf)
    assert data.offset == -TZ_OFFSET
    assert [label for _s, _e, label in data.epochs] == [f"epoch {i}" for i in range(1, 6)]
    assert data.epochs[0][0] == unix(leaf.start)
    assert data.start < data.epochs[0][0] < data.epochs[-1][1] <= data.end + 10      # samples every 10 s
    assert set(data.hosts) == {"h1", "h2"}
    reads = [v for _t, v in data.hosts["h2"]["disk_read"] if v is not None]
    assert max(reads) == pytest.approx(440.0, rel=1e-6)       # h2 reads 400 + 40 MiB/s in its epochs


def test_clock_offset_is_a_whole_number_of_quarter_hours():
    start, end = datetime(2026, 1, 5, 10, 0, 0), datetime(2026, 1, 5, 10, 10, 0)
    # DLIO's clock 5.5 h ahead of Unix time (India); the sampler started 40 s early, stopped 30 s late
    unix_start = start.replace(tzinfo=UTC).timestamp() - 5.5 * 3600
    assert clock_offset(unix_start - 40, unix_start + 630, start, end) == -5.5 * 3600
    assert clock_offset(unix_start - 40, unix_start + 630, start, None) == -5.5 * 3600
    assert clock_offset(100.0, 200.0, None, None) == 0.0


def test_series_files_in_a_folder_or_at_the_leaf_root(tmp_path):
    (tmp_path / "training_x_timeseries").mkdir()
    (tmp_path / "training_x_timeseries" / "h1.jsonl").write_text("")
    (tmp_path / "h2_timeseries.jsonl").write_text("")
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / ".hidden_timeseries.jsonl").write_text("")
    assert [p.name for p in series_files(tmp_path)] == ["h2_timeseries.jsonl", "h1.jsonl"]


def test_thin_keeps_means_and_the_limit():
    points = [(float(t), float(t % 2)) for t in range(1000)]
    thinned = thin(points, 100)
    assert len(thinned) == 100 and all(v == pytest.approx(0.5) for _t, v in thinned)
    assert thin(points[:50], 100) == points[:50]


def test_decimated_rates_are_the_mean_of_the_skipped_intervals(campaign):
    leaf = read_tree(campaign).workloads[0].runs[0]
    samples, _ = read_jsonl(str(next(leaf.path.glob("*_timeseries/h1.jsonl"))))
    kept = decimate(samples, 20)
    assert len(kept) <= 22 and kept[0] is samples[0] and kept[-1] is samples[-1]
    full = rates(samples)
    step = samples.index(kept[1])
    coarse = rates(kept)[0]["disk_total"]["read_bytes_per_s"]
    assert coarse == pytest.approx(sum(r["disk_total"]["read_bytes_per_s"] for r in full[:step]) / step, rel=1e-6)
    assert decimate(samples[:10], 20) == samples[:10]


def test_series_of_a_leaf_with_nested_phases_are_found_joined_per_host_and_marked(tmp_path):
    """A KV-cache run leaf keeps each trial's series in <series>/option_<O>/trial_<T>/<host>.jsonl:
    every trial is read, one line per host with a gap between trials, and each trial marked."""
    leaf_dir = tmp_path / "20261202_070000"
    for option, trial, t0 in ((1, 1, 1000.0), (2, 1, 1100.0)):
        folder = leaf_dir / "kv_cache_20261202_070000_timeseries" / f"option_{option}" / f"trial_{trial}"
        folder.mkdir(parents=True)
        lines = [json.dumps({"schema": "mlps-timeseries/1", "host": "h1", "mono": t0 + i, "wall": t0 + i,
                             "counters": {"disk": {"vda": {"read_bytes": 1000 * i, "write_bytes": 0}}}})
                 for i in range(4)]
        (folder / "h1.jsonl").write_text("\n".join(lines) + "\n")
    files = series_files(leaf_dir)
    assert [f.relative_to(leaf_dir).as_posix() for f in files] == [
        "kv_cache_20261202_070000_timeseries/option_1/trial_1/h1.jsonl",
        "kv_cache_20261202_070000_timeseries/option_2/trial_1/h1.jsonl"]
    assert phase_label(files[1]) == "option 2 trial 1"
    data = load_leaf(Leaf(path=leaf_dir, name=leaf_dir.name, rel=leaf_dir.name))
    assert [(round(s), round(e), label) for s, e, label in data.epochs] == [
        (1000, 1003, "option 1 trial 1"), (1100, 1103, "option 2 trial 1")]
    points = next(iter(data.hosts["h1"].values()))
    assert (1100.0, None) in points and len([p for p in points if p[1] is not None]) == 6


def test_a_sparse_series_is_drawn_as_one_line_per_segment():
    points = [(float(t), 5.0) for t in range(0, 24, 3)]          # 8 samples over a 24 s run: far apart
    chart = svg.time_chart("t", "u", [("h1", points)], [(0.0, 24.0, "run 1", False)], [])
    (line,) = [part for part in chart.split("<polyline")[1:]]
    assert len(line.split('points="')[1].split('"')[0].split()) == 8     # every sample, joined
