"""Documentation fragment mlps_phase: the options every benchmark's campaign action takes for a
phase's start and end (mlps.plugins.action PHASE_START and PHASE_END), documented once."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  staging_dir: {description: "The campaign's staging folder on the clients (phase_start).", type: str}
  mpi:
    description: "mpirun, implementation, hosts, as_root, rsh_agent, prefix, mca, env (names only) (phase_start)."
    type: dict
  context: {description: The campaign-wide part of the leaf's metadata (phase_start)., type: dict, default: {}}
  files: {description: "JSON files to write in the leaf, name to content (phase_start).", type: dict, default: {}}
  copies: {description: "Controller files to copy into the leaf, name to path (phase_start).", type: dict, default: {}}
  leaf: {description: The leaf phase_start returned (phase_end)., type: path}
  stamp: {description: The leaf's time stamp (phase_end)., type: str}
  hosts_order: {description: "Clients, launcher first (phase_end).", type: list, elements: str, default: []}
  launcher: {description: The client that ran mpirun (phase_end)., type: str}
  archives: {description: Host to its fetched output archive on the controller (phase_end)., type: dict, default: {}}
  job: {description: The launch's final job record (phase_end)., type: dict, default: {}}
  waited: {description: What mlps_phase_wait returned (phase_end)., type: dict, default: {}}
  samples: {description: Host to the samples its sampler wrote (phase_end)., type: dict, default: {}}
  unreachable: {description: Clients that left the play (phase_end)., type: list, elements: str, default: []}
  verify:
    description: Verify the workload after recording and print the verdict so far (phase_end).
    type: bool
    default: false
  previous_findings:
    description: >-
      Group keys of the previous phase's verdict (its RV(finding_keys)); only problems new since then are
      printed, with a count of those unchanged or gone (phase_end).
    type: list
    elements: str
    default: []
"""
