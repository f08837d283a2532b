"""Every `dynpim ...` command the docs show parses (cheap; test_docs_run.py runs them all)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dynpim.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), flags=re.S)


def shown_commands() -> list[tuple[str, str]]:
    out = []
    for path in DOCS:
        for block in blocks(path, "bash"):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                line = line.split(" #", 1)[0].strip()
                if line.startswith("dynpim "):
                    out.append((path.name, line))
    return out


@pytest.mark.parametrize("doc,command", shown_commands())
def test_shown_commands_parse(doc, command):
    argv = shlex.split(command)[1:]
    if argv and argv[0].startswith("$"):
        pytest.fail(f"{doc}: placeholder in {command!r}")
    try:
        build_parser().parse_args(argv)
    except SystemExit as e:
        if e.code not in (0, None):
            pytest.fail(f"{doc}: `{command}` does not parse")


# Files a doc names that the repository does not hold yet, with who fixes it. Each entry must
# still be broken (so it is removed here when the doc is fixed).
KNOWN_MISSING: dict[tuple[str, str], str] = {}
MD_NAME = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)(?:#[\w.-]*)?")


def named_files(path: Path) -> set[str]:
    """Markdown files a doc links to or names in its text (code blocks excluded)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return set(MD_NAME.findall(text))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_name_only_files_that_exist(path):
    missing = set()
    for name in named_files(path):
        candidates = [path.parent / name, ROOT / name, ROOT / "docs" / name]
        if not any(c.exists() for c in candidates):
            missing.add(name)
    known = {f for (doc, f) in KNOWN_MISSING if doc == path.name}
    assert missing == known, f"{path.name} names missing files {sorted(missing - known)}" \
        if missing - known else f"{path.name}: {sorted(known - missing)} fixed; drop KNOWN_MISSING"
