"""Action plugin mlps_vectordb_campaign (documented in library/mlps_vectordb_campaign.py): a VectorDB
campaign's controller steps - the plan, each phase's start and end (datagen, the timed runs) and
results.json - each mapping its arguments to mlps.campaign.vector_database.
"""

from __future__ import annotations

from pathlib import Path

from ansible.errors import AnsibleError

try:
    from mlps.plugins.action import PHASE_END, PHASE_START, MlpsAction, merged_spec
except ImportError as exc:  # not the project venv: say how to fix it instead of a loader traceback
    raise AnsibleError(f"the controller's Python cannot import mlps ({exc}); run ansible-playbook from the "
                       "project venv (make venv)") from exc

# Where the database is and where its data goes: what the early check and the plan both take.
SERVER = {
    "engine": {"type": "str", "default": "milvus"},
    "index": {"type": "str", "default": "HNSW"},
    "uri": {"type": "str", "default": "", "no_log": False},
    "embedded": {"type": "bool", "default": True},
    "server_host": {"type": "str", "default": ""},
    "data_dir": {"type": "str", "default": ""},
    "data_probe": {"type": "dict", "default": {}},
    "results_probe": {"type": "dict", "default": {}},
}
STEPS = {
    "check": SERVER,
    "plan": {
        **SERVER,
        "hosts": {"type": "list", "elements": "str", "required": True},
        "results_dir": {"type": "path", "required": True},
        "division": {"type": "str", "default": "closed"},
        "org": {"type": "str", "default": "mlps"},
        "system": {"type": "str", "default": "mlps-system"},
        "server_probe": {"type": "dict", "default": {}},
        "num_vectors": {"type": "raw", "default": 1000000},
        "dimension": {"type": "raw", "default": 1536},
        "num_shards": {"type": "raw", "default": 1},
        "insert_batch": {"type": "raw", "default": 1000},
        "index_params": {"type": "dict", "default": {}},
        "index_timeout": {"type": "raw", "default": 3600},
        "compact": {"type": "bool", "default": True},
        "search_ef": {"type": "raw", "default": 200},
        "k": {"type": "raw", "default": 10},
        "mode": {"type": "str", "default": "timed"},
        "runtime": {"type": "raw", "default": 60},
        "query_count": {"type": "raw", "default": 1000},
        "batch_size": {"type": "raw", "default": 1},
        "num_queries": {"type": "raw", "default": 1000},
        "seed": {"type": "raw", "default": 1},
        "query_seed": {"type": "raw", "default": 42},
        "num_processes": {"type": "raw", "default": 0},
        "npernode": {"type": "raw", "default": 0},
        "runs": {"type": "raw", "default": 5},
    },
    "phase_start": {
        **PHASE_START,
        "campaign": {"type": "dict", "required": True},
        "command": {"type": "str", "required": True, "choices": ["datagen", "run"]},
        "index_number": {"type": "int", "default": 0},
        "driver": {"type": "dict", "required": True},
        "launcher": {"type": "str", "required": True},
    },
    "phase_end": {
        **PHASE_END,
        "campaign": {"type": "dict", "required": True},
        "command": {"type": "str", "required": True, "choices": ["datagen", "run"]},
        "label": {"type": "str", "required": True},
    },
    "results": {"workload_dir": {"type": "path", "required": True}},
}
ARGUMENT_SPEC = merged_spec(STEPS)


class ActionModule(MlpsAction):
    STEPS = STEPS

    def step_check(self, a, check):
        from mlps.campaign import vector_database as vdb  # noqa: PLC0415 - imported by the step that needs it

        engine, index = vdb.check_engine_index(a["engine"], a["index"])
        if a["embedded"]:
            vdb.check_data_dir(a["data_dir"], a["server_host"], a["data_probe"], a["results_probe"])
        else:
            vdb.check_uri(engine, a["uri"])
        return {"changed": False, "engine": engine, "index": index}

    def step_plan(self, a, check):
        from mlps.campaign import vector_database as vdb  # noqa: PLC0415 - imported by the step that needs it

        keys = ("engine", "index", "hosts", "results_dir", "results_probe", "division", "org", "system", "uri",
                "embedded", "server_host", "data_dir", "server_probe", "data_probe", "num_vectors", "dimension",
                "num_shards", "insert_batch", "index_params", "index_timeout", "compact", "search_ef", "k", "mode",
                "runtime", "query_count", "batch_size", "num_queries", "seed", "query_seed", "num_processes",
                "npernode", "runs")
        return {"changed": False, "campaign": vdb.plan_campaign(**{k: a[k] for k in keys})}

    def step_phase_start(self, a, check):
        from mlps.campaign import vector_database as vdb  # noqa: PLC0415

        return vdb.start_phase(plan=a["campaign"], command=a["command"], index=a["index_number"],
                               staging_dir=a["staging_dir"], driver=a["driver"], mpi=a["mpi"], context=a["context"],
                               files=a["files"], copies=a["copies"], launcher=a["launcher"], check=check)

    def step_phase_end(self, a, check):
        from mlps.campaign import vector_database as vdb  # noqa: PLC0415

        if check:
            return {"changed": False, "leaf": a["leaf"], "status": "skipped"}
        ended = vdb.end_phase(plan=a["campaign"], leaf=a["leaf"], stamp=a["stamp"], command=a["command"],
                              phase_label=a["label"], hosts=a["hosts_order"], launcher=a["launcher"],
                              archives=a["archives"], job=a["job"], waited=a["waited"], samples=a["samples"],
                              unreachable=a["unreachable"])
        return self.with_verdict({"changed": True, **ended}, a, a["campaign"]["workload_dir"])

    def step_results(self, a, check):
        from mlps.campaign import vector_database as vdb  # noqa: PLC0415

        if check:
            return {"changed": False}
        document = vdb.write_results_json(Path(a["workload_dir"]))
        return {"changed": True, "results": document, "path": str(Path(a["workload_dir"]) / "results.json")}
