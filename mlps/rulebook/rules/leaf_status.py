"""Leaves this toolkit recorded as not completed: kept as evidence, never part of a submission."""

from __future__ import annotations

from mlps.rulebook.registry import NOT_RESULTS, Rule


class LeafStatus(Rule):
    id = "LEAF-STATUS"
    section = "2.1.17 / 2.1.18a"
    description = ("every run and datagen leaf ended as completed (a leaf whose metadata says running, failed, "
                   "timed_out or interrupted is not a result)")
    benchmarks = ("training", "checkpointing", "kv_cache", "vector_database", "benchfs")
    choice = ("only leaves with this toolkit's metadata status are judged; the campaign keeps such leaves for "
              "evidence (they are never deleted), so the submitter moves them out of the tree")

    def check(self, ctx):
        out = []
        for leaf in ctx.workload.leaves:
            status = leaf.metadata.get("status") if isinstance(leaf.metadata, dict) else None
            if leaf.command in ("run", "datagen", None) and status in NOT_RESULTS:
                why = leaf.metadata.get("message") or "no message"
                out.append(self.finding(f"{leaf.rel} ended {status}: {str(why)[:200]}", expected="completed",
                                        actual=status, evidence=f"{leaf.rel}/{leaf.metadata_file}",
                                        fix=f"move {leaf.rel} out of the results tree before submitting (keep it "
                                            "as evidence elsewhere) and run the missing runs again"))
        return out
