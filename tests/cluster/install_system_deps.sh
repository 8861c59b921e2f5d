#!/usr/bin/env bash
# Install the Debian packages the multi-host test cluster needs, only for commands that are missing.
# Safe to repeat. Exit codes: 0 all present (or installed), 1 apt-get failed,
# 2 something is missing and we are not root, 3 something is missing and this is not Debian-like.
set -euo pipefail

# sbin dirs are not on a normal user's PATH, but that is where sshd and ip live.
export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"

# command -> Debian package that provides it
declare -A PROVIDER=(
    [sshd]=openssh-server
    [ssh]=openssh-client
    [ssh-keygen]=openssh-client
    [ip]=iproute2
    [ps]=procps
    [unshare]=util-linux
    [mount]=mount
    [hostname]=hostname
    [getent]=libc-bin
    [chromium]=chromium   # renders the HTML report in tests/integration/test_report_html.py
    # Slurm on the test cluster (Cluster(slurm=True), tests/integration/test_slurm_inventory.py)
    [slurmctld]=slurm-wlm
    [slurmd]=slurm-wlm
    [srun]=slurm-wlm
    [sinfo]=slurm-wlm
    [scontrol]=slurm-wlm
    [munged]=munge
)
# file (a glob) -> Debian package, for what is not a command: Slurm's pmix plugin (srun --mpi=pmix)
# loads the unversioned libpmix.so, which only the -dev package ships
declare -A FILE_PROVIDER=(
    ["/usr/lib/*/pmix2/lib/libpmix.so"]=libpmix-dev
)

missing_packages() {
    local cmd
    local pattern
    {
        for cmd in "${!PROVIDER[@]}"; do
            command -v "$cmd" >/dev/null 2>&1 || echo "${PROVIDER[$cmd]}"
        done
        for pattern in "${!FILE_PROVIDER[@]}"; do
            compgen -G "$pattern" >/dev/null || echo "${FILE_PROVIDER[$pattern]}"
        done
    } | sort -u
}

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
    echo "system deps for the test cluster: all present"
    exit 0
fi

if [ ! -e /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing packages for the test cluster: ${missing[*]}; this script installs them only" \
        "with apt-get on Debian-like systems: install the equivalents with your package manager" >&2
    exit 3
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages for the test cluster: ${missing[*]}; run as root: sudo make system-deps" >&2
    exit 2
fi

echo "installing for the test cluster: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh image has empty package lists; refresh them only when the first try fails.
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq || { echo "error: apt-get update failed; check network and apt sources" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || { echo "error: apt-get install ${missing[*]} failed (see above)" >&2; exit 1; }
fi

mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -ne 0 ]; then
    echo "error: still missing after install: ${still[*]}" >&2
    exit 1
fi
echo "system deps for the test cluster: installed ${missing[*]}"
