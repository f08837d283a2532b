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
