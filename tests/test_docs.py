"""The project's documentation: every `docs/` page the code cites exists, no outside document is."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("domain", "ports", "adapters", "entrypoints", "config", "tests", "bench", "scripts")
CITED_PAGE = re.compile(r"docs/([\w-]+\.md)")


def _source_files() -> list[Path]:
    files = [ROOT / "README.md", *ROOT.glob("docs/*.md")]
    for folder in SOURCES:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".json", "")]
    return [p for p in files if p.is_file() and p != Path(__file__)]


def _coming() -> set[str]:
    """Pages docs/README.md announces as coming (named in backticks, not linked yet)."""
    index = (ROOT / "docs" / "README.md").read_text("utf-8")
    return set(re.findall(r"^\| `([\w-]+\.md)` \|", index, re.MULTILINE))


def test_every_cited_docs_page_exists_or_is_announced() -> None:
    coming = _coming()
    missing = {
        f"{path.relative_to(ROOT)}: docs/{page}"
        for path in _source_files()
        for page in CITED_PAGE.findall(path.read_text("utf-8", errors="replace"))
        if not (ROOT / "docs" / page).is_file() and page not in coming
    }
    assert not missing, f"cited, but neither in docs/ nor announced in its README: {missing}"


def test_no_code_cites_a_document_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(ROOT))
        for path in _source_files()
        if re.search(r"\bCONTRACT\b", path.read_text("utf-8", errors="replace"))
    ]
    assert not citing, f"cite the docs/ page instead of CONTRACT in: {citing}"


def test_docs_index_links_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text("utf-8")
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    unlinked = {page for page in pages if f"]({page}" not in index}
    unlinked |= pages & _coming()  # written now: move it from "coming" to the pages table
    assert not unlinked, f"link these pages from docs/README.md: {sorted(unlinked)}"
    assert "docs/README.md" in (ROOT / "README.md").read_text("utf-8")
