"""``dynpim table`` walks from the command line to the saved operating table through at most
eight files of ``src/dynpim``, and checks each config once (issue 19).

Definition (traced with ``sys.setprofile``, nothing guessed from the source):

* A *pipeline step* is a call of a function that reads or makes one of the artefacts between
  the command line and the table file (README, Layout): the checkpoint
  (``load_checkpoint``), the data (``load_dataset``), the accuracies (an ``Evaluator`` call),
  the PIM costs (``estimate_many``), the table (``OperatingTable``, ``OperatingTable.save``)
  and the table's checkpoint (``save_checkpoint``).
* The *walk* is the set of ``src/dynpim`` files on the call stack when any step starts, from
  the sub-command's ``run`` (``dynpim.cli.table.run``) down to the step's own function: the
  files a reader opens to follow the pipeline from the command line to each artefact. What a
  step does inside its own package (layers, cost formulas) is not the walk.
* Every step is called from the orchestration layer: its caller is a function of
  ``stages/`` (the wiring lives in one room; before issue 19 ``search/table.py`` called
  ``estimate_many`` and the CLI reached into ``cli/search.py``).
* *Checked once*: the command's options are validated once (``TableOptions``), the selection
  split is resolved once, and ``SubnetConfig.validate`` (a config against the model's slots)
  runs at most once per config.

Before issue 19 the walk had as many files, but the CLI loaded the run through
``cli/search.py``, ``search/table.py`` called the evaluator and ``estimate_many``, and the
split was resolved twice: the test fails there.
"""

from __future__ import annotations

import collections
import os
import sys

import dynpim
from dynpim.cli import main

ROOT = os.path.dirname(dynpim.__file__) + os.sep
STEPS = {  # (file relative to src/dynpim, function name)
    ("train/checkpoint.py", "load_checkpoint"), ("train/checkpoint.py", "save_checkpoint"),
    ("data/__init__.py", "load_dataset"), ("search/evaluate.py", "__call__"),
    ("pim/many.py", "estimate_many"), ("runtime/table.py", "__init__"),
    ("runtime/table.py", "save"),
}


def _rel(frame) -> str | None:
    f = frame.f_code.co_filename
    return f[len(ROOT):].replace(os.sep, "/") if f.startswith(ROOT) else None


def trace_table(argv: list[str]) -> dict:
    walk: set[str] = set()
    callers: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    validated: collections.Counter = collections.Counter()
    splits: list = []
    options: list = []

    def profile(frame, event, arg):
        if event != "call":
            return
        here = _rel(frame)
        name = frame.f_code.co_name
        if here == "nn/slots.py" and name == "validate":
            validated[frame.f_locals["self"].key] += 1
        if here == "data/splits.py" and name == "selection_split":
            splits.append(frame.f_locals.get("name"))
        if here == "stages/table.py" and name == "__post_init__":
            options.append(1)
        if (here, name) not in STEPS:
            return
        stack, f = [], frame
        while f is not None:
            rel = _rel(f)
            if rel is not None:
                stack.append(rel)
            if rel == "cli/table.py" and f.f_code.co_name == "run":
                break
            f = f.f_back
        else:
            return  # not under the command (e.g. a fixture)
        walk.update(stack)
        caller = frame.f_back
        while caller is not None and _rel(caller) is None:
            caller = caller.f_back
        callers[(here, name)].add(_rel(caller) if caller is not None else "?")

    sys.setprofile(profile)
    try:
        rc = main(argv)
    finally:
        sys.setprofile(None)
    assert rc == 0
    return {"walk": walk, "callers": callers, "validated": validated, "splits": splits,
            "options": options}


def test_dynpim_table_walks_through_eight_files_and_checks_configs_once(trained_run, tmp_path):
    got = trace_table(["table", "--checkpoint", trained_run, "--active-levels", "64,256",
                       "--calib-batches", "2", "--calib-batch-size", "64",
                       "--out", str(tmp_path / "t.json")])
    assert set(got["callers"]) == STEPS, "a pipeline step did not run"
    assert sorted(got["walk"]) == sorted([
        "cli/table.py", "stages/table.py", "stages/run.py", "train/checkpoint.py",
        "data/__init__.py", "search/evaluate.py", "pim/many.py", "runtime/table.py"])
    assert len(got["walk"]) <= 8
    for step, where in got["callers"].items():
        # the table's own Pareto copy is made inside runtime/table.py: allowed
        assert all(w.startswith("stages/") or (w == step[0] and step[1] == "__init__")
                   for w in where), f"{step} called from {where}"
    assert got["validated"] and max(got["validated"].values()) == 1, got["validated"]
    assert got["splits"] == ["validation"] and got["options"] == [1]
