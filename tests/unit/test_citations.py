"""Citations a user can follow: no tracked file outside tests/fixtures points at the team's private fact
sheet or design notes, or at an internal issue number. Rules cite the MLCommons rule book's sections;
facts about DLIO or this machine say so in words."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mlps.rulebook.registry import all_rules

ROOT = Path(__file__).resolve().parents[2]
# One rule-book section, or several joined by "/" or a "-" range: 3.1.2, 2.1.17 / 2.1.18a, 2.1.14-2.1.20.
_NUMBER = r"\d+(?:\.\d+)*[a-z]?"
RULE_BOOK_SECTIONS = re.compile(rf"{_NUMBER}(?:\s*[-/]\s*{_NUMBER})*")
# Built from parts so that this file does not cite what it forbids.
FORBIDDEN = re.compile("|".join((r"\bRULES\.md\b", r"\bDESIGN\.md\b", r"(?i:\bissue\s*#?\s*\d)")))


def tracked_files() -> list[str]:
    proc = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    return [name for name in proc.stdout.decode().split("\0") if name and not name.startswith("tests/fixtures/")]


def citations(text: str) -> list[str]:
    """The lines of text that cite something a user does not have."""
    return [line.strip() for line in text.splitlines() if FORBIDDEN.search(line)]


def test_no_tracked_file_cites_private_notes_or_issue_numbers():
    files = tracked_files()
    assert "mlps/rulebook/registry.py" in files and "docs/rules.md" in files
    found = {name: hits for name in files if (ROOT / name).is_file()
             if (hits := citations((ROOT / name).read_bytes().decode("utf-8", "replace")))}
    assert found == {}


def test_the_check_sees_each_kind_of_citation():
    text = "\n".join(("a (RULES" ".md 2.2) b", "see DESIGN" ".md section 4", "Secrets (issue" " #9.6)",
                      "target (Issue" " 4)", "rule book §3.1.2", "docs/rules.md", "Rules.md 3.1.2", "tissue 4"))
    assert citations(text) == ["a (RULES" ".md 2.2) b", "see DESIGN" ".md section 4", "Secrets (issue" " #9.6)",
                               "target (Issue" " 4)"]


def test_every_rule_cites_rule_book_sections_only():
    """`mlps rules`, docs/rules.md and every finding carry these: numbers a reader finds in the rule book."""
    sections = {rule.id: rule.section for rule in all_rules()}
    assert len(sections) > 40
    assert {rule: section for rule, section in sections.items() if not RULE_BOOK_SECTIONS.fullmatch(section)} == {}
    assert not RULE_BOOK_SECTIONS.fullmatch("§6.1 (3.1.2 inputs)") and not RULE_BOOK_SECTIONS.fullmatch("reader")
