"""The one home of the checks on user-supplied names, paths and DLIO values.

Host names, model and accelerator names, division/org/system names, paths and DLIO overrides end
up in argv lists, Hydra overrides, file names and results-tree segments. A value that holds shell
metacharacters, a newline, a NUL, a `..` segment or thousands of characters is never what the user
meant, and some consumer down the line would mis-read it; so each kind of value has a small
allow-list here, and every problem is one line naming the variable (and host), what is expected
and what to do. The preflight's inventory check calls `host_problems` before anything is written.
"""

from __future__ import annotations

import re

MAX_PATH = 4095          # PATH_MAX less the NUL
MAX_SEGMENT = 255        # NAME_MAX
MAX_NAME = 128
MAX_HOSTNAME = 253
MAX_VALUE = 1024

_PATH_CHARS = re.compile(r"[A-Za-z0-9._/+@:,=~-]+")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_HOSTNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
_DLIO_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_DLIO_TEXT = re.compile(r"[A-Za-z0-9._/+@:,%-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FIX = "set it in the inventory (host_vars/group_vars) or with -e"


def shown(value, limit: int = 100) -> str:
    """The value as a short one-line repr: newlines and NULs escaped, long values cut."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}...' ({len(str(value))} characters)"


def whole_number(name: str, value, minimum: int) -> tuple[int | None, str | None]:
    """A whole number >= minimum from an int or a digit string (not a bool): (number, None), or
    (None, the one-line problem naming `name`)."""
    number = None
    if not isinstance(value, bool):
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            number = None
    if number is None or number < minimum:
        return None, f"{name}={value!r}: expected a whole number >= {minimum}"
    return number, None


def _problem(name: str, value, expected: str, fix: str = FIX) -> str:
    return f"{name}={shown(value)}: expected {expected}; {fix}"


def check_path(name: str, value) -> str | None:
    """An absolute path of plain characters, no `..` segment, within PATH_MAX / NAME_MAX."""
    expected = ("an absolute path of letters, digits and . _ / + @ : , = ~ - (no spaces or shell metacharacters, "
                f"no '..' segment, at most {MAX_PATH} characters) such as /mnt/mlps/data")
    if not isinstance(value, str) or not value:
        return _problem(name, value, expected)
    if len(value) > MAX_PATH or not value.startswith("/") or not _PATH_CHARS.fullmatch(value):
        return _problem(name, value, expected)
    segments = value.split("/")
    if ".." in segments or any(len(s) > MAX_SEGMENT for s in segments):
        return _problem(name, value, expected)
    return None


def check_hostname(name: str, value) -> str | None:
    """An inventory host name or address: letters, digits, _ . : - (IPv6 needs the colon)."""
    expected = f"a host name or address of letters, digits and _ . : - (at most {MAX_HOSTNAME} characters)"
    if not isinstance(value, str) or len(value) > MAX_HOSTNAME or not _HOSTNAME.fullmatch(value):
        return _problem(name, value, expected, "rename the host in the inventory")
    return None


def check_plain_name(name: str, value) -> str | None:
    """A model, accelerator, division, org or system name: it becomes a results-tree segment."""
    expected = (f"a plain name of letters, digits and . _ + - starting with a letter or digit (at most {MAX_NAME} "
                "characters) such as unet3d")
    if not isinstance(value, str) or len(value) > MAX_NAME or not _NAME.fullmatch(value) or ".." in value:
        return _problem(name, value, expected)
    return None


def check_dlio_key(name: str, key) -> str | None:
    """A dotted DLIO key such as reader.read_threads."""
    if not isinstance(key, str) or len(key) > MAX_NAME or not _DLIO_KEY.fullmatch(key):
        return (f"{name}: key {shown(key)}: expected a dotted DLIO key such as reader.read_threads; "
                "fix the key in the inventory or -e")
    return None


def check_dlio_value(name: str, key, value) -> str | None:
    """A scalar DLIO value: a number, a boolean or plain text (no spaces, quotes, $, braces or ..)."""
    if isinstance(value, bool | int | float):
        return None
    expected = (f"a number, true/false or text of letters, digits and . _ / + @ : , % - (at most {MAX_VALUE} "
                "characters, no '..')")
    if (not isinstance(value, str) or len(value) > MAX_VALUE or not _DLIO_TEXT.fullmatch(value)
            or ".." in value.split("/")):
        return f"{name}[{shown(key)}]={shown(value)}: expected {expected}; fix the value in the inventory or -e"
    return None


def check_dlio_overrides(name: str, overrides) -> list[str]:
    """Every problem of one {dotted key: value} mapping (mlps_training_overrides and the like)."""
    if overrides in (None, ""):
        return []
    if not isinstance(overrides, dict):
        return [_problem(name, overrides, "a mapping of dotted DLIO keys to values, such as "
                                          "{reader.read_threads: 8}")]
    problems = []
    for key, value in overrides.items():
        problem = check_dlio_key(name, key) or check_dlio_value(name, key, value)
        if problem:
            problems.append(problem)
    return problems


def check_env_names(name: str, env) -> list[str]:
    """Names of the environment forwarded to the ranks: a mapping, or its names alone (the role passes
    only the names, since values may be secrets). Values are free: they never reach a shell."""
    if env in (None, ""):
        return []
    if not isinstance(env, dict | list):
        return [_problem(name, env, "a mapping of environment variable names to values, such as {OMP_NUM_THREADS: 1}")]
    return [f"{name}: name {shown(key)}: expected an environment variable name of letters, digits and _ "
            "(not starting with a digit); fix it in the inventory or -e"
            for key in env if not isinstance(key, str) or len(key) > MAX_NAME or not _ENV_NAME.fullmatch(key)]


# What the preflight checks on every host: variable name -> check. A variable that is not set
# (None) is skipped: the role that uses it has a default that passes.
PATHS = ("mlps_data_dir", "mlps_results_dir", "mlps_venv", "mlps_preflight_mpirun", "mlps_training_staging_dir",
         "mlps_checkpointing_folder", "mlps_checkpointing_staging_dir", "mlps_kvcache_cache_dir",
         "mlps_kvcache_staging_dir")
NAMES = ("mlps_preflight_model", "mlps_preflight_accelerator", "mlps_preflight_division",
         "mlps_training_org", "mlps_training_system")
OVERRIDES = ("mlps_training_overrides", "mlps_training_extra_overrides")
ENVIRONMENTS = ("mlps_training_env", "mlps_checkpointing_env")


def host_problems(host: str, values: dict) -> list[str]:
    """Every hostile value of one host, each line prefixed with the host."""
    problems = [check_hostname("inventory host", host)]
    address = values.get("ansible_host")
    problems.append(check_hostname("ansible_host", address) if address and address != host else None)
    problems += [check_path(name, values[name]) for name in PATHS if values.get(name) is not None]
    problems += [check_plain_name(name, str(values[name]) if isinstance(values[name], int) else values[name])
                 for name in NAMES if values.get(name) is not None]
    for name in OVERRIDES:
        problems += check_dlio_overrides(name, values.get(name))
    for name in ENVIRONMENTS:
        problems += check_env_names(name, values.get(name))
    return [f"{shown(host) if check_hostname('', host) else host}: {p}" for p in problems if p]


def inventory_problems(values_by_host: dict) -> list[str]:
    """Every hostile value of every host, hosts in the given order."""
    return [p for host, values in values_by_host.items() for p in host_problems(host, values or {})]
