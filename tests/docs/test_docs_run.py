"""Executable docs: the examples of README.md and docs/*.md run as written, in order.

For every Markdown file (one test each, in a fresh temporary directory that stands for the
repository root: ``src`` and ``benchmarks`` are symlinked into it):

* every fenced ``python`` block is executed, in document order, in one namespace per file (a
  later block sees the names of an earlier one, as a reader's session would); it must raise
  nothing;
* every line of a fenced ``bash`` block (continuation lines joined, ``#`` comments dropped)
  that starts with ``dynpim `` runs in this process through ``dynpim.cli.main`` and must exit
  with status 0; set-up lines that start with ``cp``, ``mkdir`` or ``echo`` run in ``bash``;
  ``make demo`` / ``make test`` (the README's two set-up commands: ``make test`` is this suite,
  ``make demo`` is ``dynpim demo --out runs/demo``, exercised by docs/demo.md) are not run; any
  other line is an error (the runner would silently not check it);
* a block is skipped only when the line(s) just before its fence hold the marker
  ``<!-- docs-runner: skip (needs REASON) -->`` and REASON names data or hardware this suite
  does not have (``SKIP_REASONS``): a GPU, several processes under torchrun, or data files that
  are not shipped (CIFAR-10, an ImageNet-style folder). Every marker must precede a block, and
  the number of skipped blocks is asserted equal to the number of markers (a block that needs
  only CUDA runs, and is counted as such, on a machine that has it).

Explicit substitutions, so that the whole runner stays within about a minute and a half of CPU on
two cores (``SUBSTITUTIONS``; applied to ``dynpim`` command lines only, the doc text is unchanged):

* ``--dataset fashion-mnist`` -> ``--dataset digits`` and ``--data-dir ...`` dropped
  (Fashion-MNIST trainings take hours on two CPU cores);
* ``--epochs N`` -> ``--epochs 1`` and ``--noise-epochs N`` -> ``--noise-epochs 1``;
* ``--holdout N`` with N > 300 -> ``--holdout 300`` (the digits' held-out split);
* ``dynpim search`` without ``--max-steps`` gets ``--max-steps 2`` (a full ResNet-20 search
  takes ~1 min even on digits);
* ``dynpim demo`` gets ``--quick --epochs 1 --model lenet`` (the full demo takes ~5 min); the
  same demo options run once per session, later runs copy the first one's run directory;
* a path starting with ``/tmp/`` is moved into the temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from dynpim.cli import main as dynpim_main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

MARKER = re.compile(r"<!--\s*docs-runner:\s*skip\s*\(needs ([^)]*)\)\s*-->")
SKIP_REASONS = re.compile(r"CUDA|GPU|torchrun|CIFAR-10|ImageNet")
FENCE = re.compile(r"^```(\w*)\s*$")
SETUP_COMMANDS = ("cp ", "mkdir ", "echo ")
NOT_RUN = ("make demo", "make test")

SUBSTITUTIONS: list[tuple[str, str]] = [
    (r"--epochs \d+", "--epochs 1"),
    (r"--noise-epochs \d+", "--noise-epochs 1"),
]
DIGITS_HOLDOUT = 300
SEARCH_MAX_STEPS = 2
DEMO_EXTRA = ["--quick", "--epochs", "1", "--model", "lenet"]
_demo_runs: dict[tuple[str, ...], Path] = {}


@dataclass
class Block:
    lang: str
    code: str
    line: int
    skip: str | None


def is_absent(reason: str) -> bool:
    """Whether what a skip marker needs is missing here. Data files that are not shipped and
    several torchrun processes always are; a block that needs only a GPU runs where CUDA is."""
    if re.search(r"torchrun|CIFAR-10|ImageNet", reason):
        return True
    return not torch.cuda.is_available()


def parse_blocks(text: str) -> tuple[list[Block], int]:
    """The fenced blocks of a Markdown text and the number of skip markers in it."""
    lines = text.splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = MARKER.search(lines[k]) if k >= 0 else None
        out.append(Block(m.group(1), "\n".join(lines[i + 1:j]) + "\n", i + 1,
                         marker.group(1) if marker else None))
        i = j + 1
    return out, len(MARKER.findall(text))


def command_lines(code: str) -> list[str]:
    joined = re.sub(r"\s*\\\n\s*", " ", code)
    lines = [line.split(" #", 1)[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def substitute(line: str, tmp: Path) -> list[str]:
    """The argv (after ``dynpim``) that the runner executes for a doc's command line."""
    if "--dataset fashion-mnist" in line:
        line = re.sub(r"--data-dir \S+", "", line.replace("fashion-mnist", "digits"))
    for pattern, repl in SUBSTITUTIONS:
        line = re.sub(pattern, repl, line)
    argv = [a.replace("/tmp/", f"{tmp}/") for a in shlex.split(line)[1:]]
    for i, a in enumerate(argv[:-1]):
        if a == "--holdout" and int(argv[i + 1]) > DIGITS_HOLDOUT:
            argv[i + 1] = str(DIGITS_HOLDOUT)
    if argv[:1] == ["search"] and "--max-steps" not in argv:
        argv += ["--max-steps", str(SEARCH_MAX_STEPS)]
    if argv[:1] == ["demo"]:
        argv += DEMO_EXTRA
    return argv


def demo_key(argv: list[str]) -> tuple[str, ...]:
    """The demo's effective options: ``--out`` and defaults that a substitution made equal
    (``--dataset digits``, a repeated ``--quick``) do not make another demo."""
    rest, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif a == "--dataset" and argv[i + 1] == "digits":
            skip = True
        elif a != "--quick":
            rest.append(a)
    return tuple(rest)


def run_dynpim(argv: list[str], where: str) -> None:
    out = argv[argv.index("--out") + 1] if "--out" in argv else "runs/demo"
    if argv[:1] == ["demo"]:
        key = demo_key(argv)
        if key in _demo_runs and not Path(out).exists():
            shutil.copytree(_demo_runs[key], out)
            return
    buf = io.StringIO()
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = dynpim_main(argv)
    except SystemExit as e:  # argparse errors
        rc = e.code
    finally:
        torch.set_num_threads(threads)
        print(f"{time.perf_counter() - t0:6.1f} s  dynpim {shlex.join(argv)}")
    assert rc in (0, None), f"{where}: `dynpim {shlex.join(argv)}` exited {rc}:\n{buf.getvalue()}"
    if argv[:1] == ["demo"]:
        _demo_runs[key] = Path(out).resolve()


def run_doc(path: Path, tmp: Path) -> tuple[int, int]:
    """Run one file's blocks; returns (blocks run, blocks skipped)."""
    for name in ("src", "benchmarks"):
        (tmp / name).symlink_to(ROOT / name)
    blocks, markers = parse_blocks(path.read_text())
    namespace: dict = {"__name__": "__docs__"}
    ran = skipped = marked_but_run = 0
    for b in blocks:
        where = f"{path.name}:{b.line}"
        if b.lang not in ("python", "bash"):
            assert b.skip is None, f"{where}: skip marker before a {b.lang or 'plain'} block"
            continue
        if b.skip is not None:
            assert SKIP_REASONS.search(b.skip), \
                f"{where}: a block may only be skipped for absent data or hardware, got {b.skip!r}"
            if is_absent(b.skip):
                skipped += 1
                continue
            marked_but_run += 1
        ran += 1
        if b.lang == "python":
            code = b.code.replace("/tmp/", f"{tmp}/")
            exec(compile(code, f"{path}:{b.line}", "exec"), namespace)
            continue
        for line in command_lines(b.code):
            if line.startswith("dynpim "):
                run_dynpim(substitute(line, tmp), f"{where}: `{line}`")
            elif line.startswith(SETUP_COMMANDS):
                subprocess.run(["bash", "-c", line], cwd=tmp, check=True)
            else:
                assert line in NOT_RUN, f"{where}: the runner does not know how to run {line!r}"
    assert skipped + marked_but_run == markers, \
        f"{path.name}: {markers} skip markers but {skipped} blocks skipped"
    return ran, skipped


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_doc_runs_as_written(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ran, skipped = run_doc(path, tmp_path)
    print(f"{path.name}: {ran} blocks run, {skipped} skipped")


def test_only_absent_needs_skip():
    assert is_absent("CIFAR-10 files") and is_absent("torchrun with several processes")
    assert is_absent("an ImageNet-style folder and CUDA")
    assert is_absent("CUDA") == (not torch.cuda.is_available())


def test_parser_sees_fences_and_markers():
    text = ("x\n<!-- docs-runner: skip (needs CUDA) -->\n```bash\ndynpim x\n```\n\n"
            "```python\nprint(1)\n```\n")
    blocks, markers = parse_blocks(text)
    assert [(b.lang, b.skip) for b in blocks] == [("bash", "CUDA"), ("python", None)]
    assert markers == 1
    assert command_lines("dynpim a \\\n   --b 1   # note\n# only a comment\n") == ["dynpim a --b 1"]


def test_substitutions_are_the_documented_ones(tmp_path):
    argv = substitute("dynpim train --dataset fashion-mnist --data-dir /x --epochs 10 "
                      "--holdout 2500 --out /tmp/r", tmp_path)
    assert argv == ["train", "--dataset", "digits", "--epochs", "1", "--holdout", "300",
                    "--out", f"{tmp_path}/r"]
    assert substitute("dynpim search --checkpoint r --out s", tmp_path)[-2:] == ["--max-steps", "2"]
    assert substitute("dynpim demo --out d", tmp_path)[-5:] == DEMO_EXTRA
    fm = substitute("dynpim demo --dataset fashion-mnist --out runs/demo-fm", tmp_path)
    quick = substitute("dynpim demo --quick --out runs/q", tmp_path)
    assert demo_key(fm) == demo_key(quick) == demo_key(substitute("dynpim demo", tmp_path))
