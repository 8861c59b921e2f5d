"""/proc/cpuinfo on x86 (real file) and hand-written ARM, POWER, s390x and RISC-V samples."""

from pathlib import Path

import pytest

from mlps_module_utils import mlps_procfs as procfs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "procfs"
SAMPLES = FIXTURES / "handwritten" / "cpuinfo"


def parse(path: Path) -> dict:
    data, skipped = procfs.parse_cpuinfo(path.read_text(encoding="utf-8"))
    assert skipped == 0, f"{path.name}: {skipped} lines skipped"
    return data


def test_x86_real_file_counts_cores_from_physical_and_core_ids():
    data = parse(FIXTURES / "prometheus-procfs" / "proc" / "cpuinfo")
    assert data["summary"] == {
        "model": "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", "architecture": "x86_64",
        "sockets": 1, "physical_cores": 4, "logical_cpus": 8, "topology_source": "cpuinfo",
    }
    assert [cpu["processor"] for cpu in data["cpus"]] == list(range(8))
    assert data["cpus"][5]["core id"] == "1"
    assert data["cpus"][0]["cpu MHz"] == "799.998"
    assert data["machine"] == {}


# file, model, architecture, sockets, physical cores, logical CPUs, topology source
CASES = [
    ("aarch64-neoverse-n1", "ARM Neoverse-N1", "aarch64", 1, 4, 4, "assumed"),
    ("armv7-raspberrypi3", "ARM Cortex-A53", "armv7l", 1, 4, 4, "assumed"),
    ("aarch64-kernel-3.10", "ARM Cortex-A53", "aarch64", 1, 4, 4, "assumed"),
    ("aarch64-unknown-part", "HiSilicon part 0xd99", "aarch64", 1, 2, 2, "assumed"),
    ("ppc64le-power9", "POWER9 (architected), altivec supported", "ppc64le", 1, 8, 8, "assumed"),
    ("s390x-z13-per-cpu", "IBM/S390 2964", "s390x", 1, 4, 4, "cpuinfo"),
    ("s390x-z13-header-only", "IBM/S390 2964", "s390x", 1, 4, 4, "assumed"),
    ("riscv64-u74", "sifive,u74-mc", "riscv64", 1, 4, 4, "assumed"),
    ("armv6-legacy-single", "ARM ARM1176", "armv7l", 1, 1, 1, "assumed"),
    ("riscv64-qemu-isa-only", "rv64imafdch_zicbom_zicboz_zicntr_zicsr_zifencei_zihintntl_zihintpause_zihpm"
     "_zawrs_zfa_zca_zcd_zba_zbb_zbc_zbs_sstc_svadu", "riscv64", 1, 2, 2, "assumed"),
]


@pytest.mark.parametrize(("name", "model", "arch", "sockets", "cores", "logical", "source"), CASES)
def test_summary_per_architecture(name, model, arch, sockets, cores, logical, source):
    summary = parse(SAMPLES / name)["summary"]
    assert summary == {"model": model, "architecture": arch, "sockets": sockets, "physical_cores": cores,
                       "logical_cpus": logical, "topology_source": source}


def test_machine_trailers_are_kept_apart_from_cpus():
    power = parse(SAMPLES / "ppc64le-power9")
    assert power["machine"]["model"] == "IBM,9009-42A"
    assert power["machine"]["platform"] == "pSeries"
    assert all("timebase" not in cpu for cpu in power["cpus"])
    rpi = parse(SAMPLES / "armv7-raspberrypi3")
    assert rpi["machine"]["Hardware"] == "BCM2835"
    assert rpi["cpus"][3]["CPU part"] == "0xd03"


def test_old_arm64_shared_keys_are_copied_to_each_bare_processor():
    data = parse(SAMPLES / "aarch64-kernel-3.10")
    assert [cpu["processor"] for cpu in data["cpus"]] == [0, 1, 2, 3]
    assert all(cpu["CPU part"] == "0xd03" for cpu in data["cpus"])
    assert data["machine"]["Processor"] == "AArch64 Processor rev 4 (aarch64)"


def test_s390x_cpus_from_blocks_or_from_header_lines():
    blocks = parse(SAMPLES / "s390x-z13-per-cpu")
    assert [cpu["processor"] for cpu in blocks["cpus"]] == [0, 1, 2, 3]
    assert blocks["cpus"][2]["core id"] == "2"
    header = parse(SAMPLES / "s390x-z13-header-only")
    assert header["cpus"][1] == {"processor": 1, "version": "FF", "identification": "0133E8", "machine": "2964"}
    assert header["machine"]["# processors"] == "4"


def test_x86_fallbacks_without_core_ids():
    # Some hypervisors hide physical/core ids but keep `cpu cores`; others give neither.
    with_cores = "".join(f"processor : {i}\nvendor_id : GenuineIntel\nflags : fpu lm\ncpu cores : 2\n\n"
                         for i in range(4))
    summary = procfs.parse_cpuinfo(with_cores)[0]["summary"]
    assert (summary["sockets"], summary["physical_cores"], summary["logical_cpus"]) == (1, 2, 4)
    bare = "processor : 0\nvendor_id : AuthenticAMD\nflags : fpu\n"
    summary = procfs.parse_cpuinfo(bare)[0]["summary"]
    assert (summary["architecture"], summary["physical_cores"], summary["topology_source"]) == ("i686", 1, "assumed")


def test_two_socket_x86_counts_pairs_not_core_ids():
    text = "".join(f"processor : {p * 4 + c * 2 + t}\nphysical id : {p}\ncore id : {c}\ncpu cores : 2\n\n"
                   for p in range(2) for c in range(2) for t in range(2))
    summary = procfs.parse_cpuinfo(text)[0]["summary"]
    assert (summary["sockets"], summary["physical_cores"], summary["logical_cpus"]) == (2, 4, 8)


def test_sysfs_topology_summary_counts_unique_sibling_sets():
    # POWER9 SMT4: two cores of four threads on one chip.
    threads = [("0-3", "0-7")] * 4 + [("4-7", "0-7")] * 4
    assert procfs.summarize_sysfs_topology(threads) == (1, 2)
    assert procfs.summarize_sysfs_topology([]) is None


def test_empty_and_junk_cpuinfo():
    data, skipped = procfs.parse_cpuinfo("")
    assert (data["summary"]["logical_cpus"], data["summary"]["model"], skipped) == (0, None, 0)
    data, skipped = procfs.parse_cpuinfo("no colon here\nprocessor : x\n: value without key\n")
    assert data["cpus"] == []
    assert skipped == 3


def test_legacy_single_core_arm_without_numbered_processor_is_one_cpu():
    # `Processor : ARMv6-compatible ...` and no `processor : N` line: one CPU, never zero
    data = parse(SAMPLES / "armv6-legacy-single")
    assert data["cpus"] == [{"processor": 0}]
    assert data["summary"]["logical_cpus"] == 1 and data["summary"]["sockets"] == 1
    assert data["machine"]["Processor"] == "ARMv6-compatible processor rev 7 (v6l)"
