"""House rules that a newcomer can rely on in every file of ``src/dynpim`` (issue 19): every
function fits on a screen (under 80 lines), and no accuracy key is built from a split name in
an f-string (``EvalRow`` carries ``top1`` and ``split``; the ``top1_<split>`` keys exist only
at the JSON edge, spelt out)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dynpim"
MAX_FUNCTION_LINES = 80


def _functions():
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(SRC), node


def test_every_function_is_under_80_lines():
    found = list(_functions())
    assert len(found) > 500, "the walk found too few functions: the parser is broken"
    long = [f"{p}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for p, n in found if n.end_lineno - n.lineno + 1 >= MAX_FUNCTION_LINES]
    assert not long, "functions of 80 lines or more:\n" + "\n".join(long)


def test_no_accuracy_key_is_built_from_a_split_name():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr) and node.values and \
                    isinstance(node.values[0], ast.Constant) and \
                    str(node.values[0].value).startswith("top1_"):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not bad, "f-string accuracy keys (use EvalRow / TOP1_KEYS):\n" + "\n".join(bad)
