"""What the reader met: unreadable files, junk, skipped code trees, symlinks leaving the tree."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import ALL_BENCHMARKS, PROFILES, Rule

_FIX = {
    "unparsable": "restore the file from the run's output; a hand-edited or truncated file cannot be verified",
    "too_large": "the verifier refuses JSON/YAML files above the size limit; check the file is what DLIO wrote",
    "unreadable": "fix the file's permissions so the verifier can read it",
    "symlink": "copy the file into the results tree instead of linking outside it",
    "limit": "move what is not results out of the tree (results trees are about 12 levels deep and a run "
             "folder holds a few dozen files); what lies past the limit was not read",
}


class ReadableFiles(Rule):
    id = "READ-FILES"
    section = "2.1.14-2.1.20"
    description = "every file the rules read parses: not truncated, not oversized, not a link out of the tree"
    benchmarks = ALL_BENCHMARKS
    profiles = PROFILES

    def check(self, ctx):
        problems = [p for leaf in ctx.workload.leaves for p in leaf.problems] + list(ctx.workload.problems)
        out = []
        for problem in problems:
            if problem.kind == "placeholder":
                out.append(self.finding(f"{problem.path}: {problem.detail}", outcome=Outcome.INFO,
                                        evidence=problem.path))
                continue
            outcome = Outcome.WARNING if problem.kind == "symlink" else Outcome.INVALID
            out.append(self.finding(f"{problem.path} cannot be used: {problem.detail}", outcome=outcome,
                                    evidence=problem.path, fix=_FIX.get(problem.kind)))
        return out


class TreeNotes(Rule):
    id = "READ-TREE"
    section = "2.1"
    description = ("junk files (._*, .DS_Store, lock files, crash logs) and code trees are ignored and listed; "
                   "leaf-like folders inside skipped trees are counted (WARNING)")
    severity = Outcome.INFO
    profiles = PROFILES
    scope = "tree"

    def check(self, ctx):
        tree = ctx.tree
        out = []
        if tree.junk:
            shown = ", ".join(tree.junk[:5]) + (" ..." if len(tree.junk) > 5 else "")
            out.append(self.finding(f"ignored {len(tree.junk)} junk file(s): {shown}", actual=len(tree.junk),
                                    fix="delete them before submitting (AppleDouble, .DS_Store, lock files)"))
        if tree.skipped:
            shown = ", ".join(tree.skipped[:5]) + (" ..." if len(tree.skipped) > 5 else "")
            out.append(self.finding(f"skipped {len(tree.skipped)} folder(s) that are not results: {shown}",
                                    actual=len(tree.skipped)))
        if tree.skipped_leaves:
            # a leaf-like folder in a skipped tree is never judged: say so where a reviewer looks
            shown = ", ".join(tree.skipped_leaves[:3]) + (" ..." if len(tree.skipped_leaves) > 3 else "")
            out.append(self.finding(
                f"{len(tree.skipped_leaves)} folder(s) that look like result leaves were not judged: they lie in "
                f"code trees or datagen logs: {shown}", outcome=Outcome.WARNING, actual=len(tree.skipped_leaves),
                evidence=tree.skipped_leaves[0],
                fix="move results out of code trees; a code tree is a folder holding source files or a code marker"))
        for problem in tree.problems:
            # a folder that cannot be listed may hide leaves; a link out of the tree is only skipped
            outcome = Outcome.INVALID if problem.kind in ("unreadable", "limit") else Outcome.WARNING
            out.append(self.finding(f"{problem.path}: {problem.detail}", outcome=outcome,
                                    evidence=problem.path, fix=_FIX.get(problem.kind)))
        return out
