"""The fix for each host's OS: package-manager commands per OS family."""

from __future__ import annotations

_FAMILIES = {
    "debian": ("debian", "ubuntu", "linuxmint", "raspbian", "pop"),
    "rhel": ("rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn", "scientific"),
    "suse": ("suse", "sles", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sle_hpc"),
}
FAMILY_LABELS = {"debian": "Debian/Ubuntu", "rhel": "RHEL-family", "suse": "SUSE"}


def os_family(os_release: dict | None) -> str | None:
    """debian, rhel or suse from os-release ID, then ID_LIKE; None when unknown."""
    release = os_release or {}
    ids = [str(release.get("ID") or "").lower(), *str(release.get("ID_LIKE") or "").lower().split()]
    for name in ids:
        for family, members in _FAMILIES.items():
            if name in members or family in name:
                return family
    return None


# Per OS family: the command that installs or starts what a check needs.
_OS_COMMANDS: dict[str, dict[str, str]] = {
    "python": {"debian": "apt-get install -y python3 python3-venv", "rhel": "dnf install -y python3",
               "suse": "zypper install -y python3"},
    "sshd": {"debian": "apt-get install -y openssh-server && systemctl enable --now ssh",
             "rhel": "dnf install -y openssh-server && systemctl enable --now sshd",
             "suse": "zypper install -y openssh-server && systemctl enable --now sshd"},
    "chrony": {"debian": "apt-get install -y chrony && systemctl enable --now chrony && chronyc makestep",
               "rhel": "dnf install -y chrony && systemctl enable --now chronyd && chronyc makestep",
               "suse": "zypper install -y chrony && systemctl enable --now chronyd && chronyc makestep"},
    "nfs": {"debian": "apt-get install -y nfs-common && mount -t nfs SERVER:/EXPORT {path}",
            "rhel": "dnf install -y nfs-utils && mount -t nfs SERVER:/EXPORT {path}",
            "suse": "zypper install -y nfs-client && mount -t nfs SERVER:/EXPORT {path}"},
    "openmpi": {"debian": "apt-get install -y openmpi-bin libopenmpi-dev",
                "rhel": "dnf install -y openmpi openmpi-devel",
                "suse": "zypper install -y openmpi4 openmpi4-devel"},
    "mpich": {"debian": "apt-get install -y mpich libmpich-dev", "rhel": "dnf install -y mpich mpich-devel",
              "suse": "zypper install -y mpich mpich-devel"},
}


def os_command(what: str, family: str | None, **fmt: str) -> str:
    """The command for this OS family; every family's, labelled, when the family is unknown."""
    commands = _OS_COMMANDS[what]
    if family in commands:
        return commands[family].format(**fmt)
    return "; ".join(f"{FAMILY_LABELS[f]}: {cmd.format(**fmt)}" for f, cmd in commands.items())


def setup_fix(host: str, force: bool = False) -> str:
    """Reinstall the client venv on one host with the setup playbook."""
    extra = " -e mlps_env_force=true" if force else ""
    return f"ansible-playbook -i <inventory> playbooks/setup.yml --limit {host}{extra}"
