"""The package layering as a rule: every import arrow between dynpim's sub-packages must be in
ALLOWED (the architecture, written once; README's Layout section describes it). A new arrow is
a design decision: add it here on purpose, never to silence the test."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "dynpim"

# importer -> sub-packages / top-level modules it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "pareto": set(),  # Pareto dominance, one rule for report, runtime and search (numpy only)
    "defaults": set(),  # names shared with the front-ends, importable without torch
    "figures": set(),  # matplotlib Figures without pyplot: the one plotting helper
    "nn": {"errors"},
    # quantization and the integer IR: on top of nn, below whatever builds, runs or costs it
    "quant": {"errors", "nn"},
    "models": {"errors", "nn", "quant"},
    "data": {"errors"},
    "pim": {"errors", "nn", "quant", "defaults"},  # executes quant's integer IR
    "runtime": {"errors", "nn", "pareto", "figures"},
    "rundir": {"errors"},
    "train": {"errors", "nn", "quant", "models", "data", "rundir"},
    "search": {"errors", "nn", "models", "data", "train", "pim", "pareto"},  # no runtime
    "report": {"errors", "pareto", "figures"},
    # the pipeline layer: wires the library together; front-ends call it, the library never does
    "stages": {"errors", "pareto", "defaults", "figures", "nn", "quant", "models", "data",
               "train", "search", "pim", "runtime", "report", "rundir"},
    "demo": {"errors", "pareto", "defaults", "figures", "nn", "quant", "models", "data", "train",
             "search", "pim", "runtime", "report", "rundir", "stages"},
    "cli": {"errors", "pareto", "defaults", "figures", "nn", "quant", "models", "data", "train",
            "search", "pim", "runtime", "report", "rundir", "stages", "demo"},
    "__main__": {"cli"},
    "__init__": set(),  # the package itself (its version) may be imported by anyone
}

# old import paths kept as thin aliases of a module that moved (file -> the unit it re-exports):
# the only arrows against the table, and such a file holds nothing but its re-exports
ALIASES: dict[str, str] = {
    "nn/quant.py": "quant",  # dynpim.nn.quant -> dynpim.quant (issue 19)
    "nn/integer.py": "quant",  # dynpim.nn.integer -> dynpim.quant
}


def _unit(path: Path) -> str:
    """Sub-package (or top-level module) a source file belongs to."""
    return path.relative_to(ROOT).with_suffix("").parts[0]


def _targets(node: ast.AST, path: Path) -> list[str]:
    """dynpim sub-packages named by an import statement (absolute or relative)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            pkg = ["dynpim", *path.relative_to(ROOT).parent.parts]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join(pkg + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{a.name}" for a in node.names] if base == "dynpim" else [base]
    else:
        return []
    units = {q.stem for q in ROOT.iterdir() if q.suffix == ".py" or (q / "__init__.py").exists()}
    out = [n.split(".")[1] for n in names if n.startswith("dynpim.")]
    return [u if u in units else "__init__" for u in out]  # e.g. dynpim.__version__


def arrows() -> set[tuple[str, str, str]]:
    out = set()
    for path in ROOT.rglob("*.py"):
        src, alias = _unit(path), ALIASES.get(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(path.read_text())):
            for tgt in _targets(node, path):
                if tgt not in (src, alias):
                    out.add((src, tgt, str(path.relative_to(ROOT))))
    return out


def test_every_import_arrow_is_allowed():
    found = arrows()
    assert found, "no imports found: the parser is broken"
    bad = sorted(f"{f}: {s} -> {t}" for s, t, f in found
                 if t != "__init__" and t not in ALLOWED.get(s, set()))
    assert not bad, "import arrows not in the architecture table:\n" + "\n".join(bad)


def test_the_table_has_no_cycles_and_pim_runtime_never_import_train():
    for low in ("pim", "runtime", "nn", "quant", "models"):
        assert "train" not in ALLOWED[low]
    seen: dict[str, int] = {}

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, f"cycle: {' -> '.join(stack + (node,))}"
        if seen.get(node):
            return
        for nxt in ALLOWED.get(node, set()):
            visit(nxt, stack + (node,))
        seen[node] = 1

    for unit in ALLOWED:
        visit(unit, ())


def test_quant_sits_on_nn_and_under_what_uses_it():
    assert ALLOWED["quant"] == {"errors", "nn"} and "quant" not in ALLOWED["nn"]
    assert {"quant", "nn"} <= ALLOWED["pim"]  # pim executes the integer IR
    for user in ("models", "train", "stages", "demo", "cli"):
        assert "quant" in ALLOWED[user]


def test_alias_modules_only_re_export():
    for rel, target in ALIASES.items():
        tree = ast.parse((ROOT / rel).read_text())
        body = tree.body[1:] if ast.get_docstring(tree) else tree.body
        for node in body:
            if isinstance(node, ast.ImportFrom):
                assert node.module and node.module.startswith(f"dynpim.{target}"), rel
            else:
                assert isinstance(node, ast.Assign) and \
                    [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"], rel


def test_cli_modules_import_no_other_cli_module():
    """A sub-command module parses, calls a stage and prints: it may import the package's
    ``__init__`` (shared argparse helpers, ``main``) but no other sub-command module."""
    bad = []
    for path in sorted((ROOT / "cli").glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(["dynpim", "cli"][: 2 - (node.level - 1)]
                                    + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                names = [f"{base}.{a.name}" for a in node.names]
                mods = [base] if base.startswith("dynpim.cli.") else \
                    [n for n in names if base == "dynpim.cli" and
                     (ROOT / "cli" / f"{n.rsplit('.', 1)[1]}.py").exists()]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names if a.name.startswith("dynpim.cli.")]
            else:
                continue
            bad += [f"cli/{path.name} imports {m}" for m in mods]
    assert not bad, "\n".join(bad)


def test_the_parser_sees_relative_and_package_imports():
    p = ROOT / "pim" / "cost.py"
    code = ("from ..nn.specs import LayerSpec\nfrom dynpim import pim\nimport dynpim.train\n"
            "from dynpim import __version__\n")
    got = [t for node in ast.walk(ast.parse(code)) for t in _targets(node, p)]
    assert got == ["nn", "pim", "train", "__init__"]
