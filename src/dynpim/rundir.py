"""Run directories with an owner, and output paths checked before any work starts.

Every command that writes a run directory records in it ``dynpim-run.json``: its ``kind``
(``train``, ``search``, ``table``, ``simulate``, ``demo``), the resolved configuration, when it
was created, and every override accepted on resume. Before doing any work a command calls
:func:`claim_run_dir`, which refuses (:class:`~dynpim.errors.RunDirError`) to write

* into a directory of another kind, or one inside another run (a demo's ``uniform/`` folder),
* into an existing run of its own kind, unless the command resumes it (``train --resume``,
  ``demo``, ``search --resume``) or ``overwrite`` is given,
* into a non-empty directory that is no dynpim run, unless ``overwrite`` is given (files it
  did not create are never deleted),

and checks that the directory can be created and written. Runs written before this file existed
are recognised by their files (``checkpoint/`` or ``metrics.jsonl``: train; ``demo.json``:
demo; ``trajectory.jsonl``: search; ``summary.json`` with ``windows.csv``: simulate).
:func:`check_output_file` does the same checks for a single output file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from dynpim.errors import DynpimError, RunDirError

RUN_FILE = "dynpim-run.json"
KINDS = ("train", "search", "table", "simulate", "demo")


@dataclass
class RunInfo:
    """What ``dynpim-run.json`` (or, for older runs, the files) say about a run directory."""

    path: str
    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    recorded: bool = True  # False: recognised from its files (a run older than RUN_FILE)


def _legacy_kind(path: str) -> str | None:
    """The kind of a run directory written before ``dynpim-run.json`` existed, from its files."""
    has = set(os.listdir(path))
    if "demo.json" in has:
        return "demo"
    if has & {"checkpoint", "checkpoint.old", "metrics.jsonl"} or any(
            n.startswith("checkpoint.tmp-") for n in has):
        return "train"
    if "trajectory.jsonl" in has:
        return "search"
    if "summary.json" in has and ({"windows.csv", "comparison.json"} & has
                                  or {"budget", "feedback"} & has):
        return "simulate"
    return None


def read_run(path: str) -> RunInfo | None:
    """The owner of directory ``path``: None when it records none and is not recognisable."""
    rec = os.path.join(path, RUN_FILE)
    if os.path.isfile(rec):
        try:
            with open(rec, encoding="utf-8") as f:
                data = json.load(f)
            kind = data["kind"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RunDirError(f"{rec}: unreadable run record ({type(e).__name__}: {e}); "
                              f"choose another output directory") from None
        return RunInfo(path, str(kind), dict(data.get("config") or {}),
                       list(data.get("overrides") or []))
    if os.path.isdir(path):
        kind = _legacy_kind(path)
        if kind:
            return RunInfo(path, kind, recorded=False)
    return None


def _enclosing_run(path: str) -> RunInfo | None:
    """The nearest run directory strictly above ``path``."""
    here = os.path.dirname(os.path.abspath(path))
    while True:
        if os.path.isdir(here):
            info = read_run(here)
            if info is not None and (info.recorded or info.kind == "demo"):
                return info
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def check_writable_dir(path: str, option: str = "--out") -> None:
    """``path`` is (or can be created as) a directory this process may write into."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise DynpimError(f"{option} {path}: exists and is not a directory")
    _creatable(os.path.abspath(path), path, option)


def _creatable(folder: str, shown: str, option: str) -> None:
    """The nearest existing ancestor of ``folder`` (or itself) is a writable directory."""
    here = folder
    while not os.path.exists(here):
        here = os.path.dirname(here)
    if not os.path.isdir(here):
        raise DynpimError(f"{option} {shown}: {here} is a file, not a directory")
    if not os.access(here, os.W_OK | os.X_OK):
        raise DynpimError(f"{option} {shown}: {here} is not writable")


def check_output_file(path: str, option: str = "--out", *, overwrite: bool = True) -> None:
    """``path`` can be written as a file: not a directory, its folder creatable and writable,
    and (unless ``overwrite``) not an existing file."""
    if not path:
        raise DynpimError(f"{option}: empty path")
    if os.path.isdir(path):
        raise DynpimError(f"{option} {path}: is a directory; give a file path")
    if os.path.exists(path) and not overwrite:
        raise RunDirError(f"{option} {path}: exists; pass --overwrite to replace it")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise DynpimError(f"{option} {path}: is not writable")
    _creatable(os.path.dirname(os.path.abspath(path)), path, option)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_run_dir(path: str, kind: str, *, resume: bool = False, overwrite: bool = False,
                  option: str = "--out", resume_option: str | None = "--resume"
                  ) -> RunInfo | None:
    """Check, changing nothing, that command ``kind`` may write the run directory ``path``
    (rules in the module docstring). Returns the existing run of the same kind, else None."""
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}; one of {KINDS}")
    check_writable_dir(path, option)
    outer = _enclosing_run(path)
    if outer is not None:
        raise RunDirError(f"{option} {path}: is inside the {outer.kind} run {outer.path}; "
                          f"dynpim {kind} does not write into another run (choose another "
                          f"{option})")
    info = read_run(path) if os.path.isdir(path) else None
    if info is not None and info.recorded and set(os.listdir(path)) <= {RUN_FILE}:
        info = None  # claimed by a command that failed before writing anything: reusable
    if info is not None and info.kind != kind:
        raise RunDirError(f"{option} {path}: holds a {info.kind} run; dynpim {kind} does not "
                          f"write into it (choose another {option})")
    if info is not None and not (resume or overwrite):
        how = f"{resume_option} to continue it or --overwrite to replace it" \
            if resume_option else "--overwrite to replace it"
        raise RunDirError(f"{option} {path}: holds a {kind} run already; pass {how}, or "
                          f"choose another {option}")
    if info is None and os.path.isdir(path) and set(os.listdir(path)) - {RUN_FILE} \
            and not overwrite:
        raise RunDirError(f"{option} {path}: is not empty and is no dynpim run; choose a new "
                          f"or empty directory, or pass --overwrite to write into it")
    return info


def claim_run_dir(path: str, kind: str, config: dict[str, Any] | None = None, *,
                  resume: bool = False, overwrite: bool = False, option: str = "--out",
                  resume_option: str | None = "--resume") -> RunInfo | None:
    """:func:`check_run_dir`, then create ``path`` and record ``kind`` and ``config`` as its
    owner (keeping the creation time and overrides of a run that is continued). Call it
    before any work. Returns what :func:`check_run_dir` returns."""
    info = check_run_dir(path, kind, resume=resume, overwrite=overwrite, option=option,
                         resume_option=resume_option)
    os.makedirs(path, exist_ok=True)
    kept = info if info is not None and info.recorded and not overwrite else None
    record = {"kind": kind, "config": config or {},
              "created_utc": _created(path) if kept is not None else _now(),
              "overrides": kept.overrides if kept is not None else []}
    write_record(path, record)
    return info


def _created(path: str) -> str:
    try:
        with open(os.path.join(path, RUN_FILE), encoding="utf-8") as f:
            return str(json.load(f).get("created_utc") or _now())
    except (OSError, ValueError):
        return _now()


def write_record(path: str, record: dict[str, Any]) -> None:
    """Write ``dynpim-run.json`` atomically."""
    dest = os.path.join(path, RUN_FILE)
    tmp = dest + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, default=str)
        f.write("\n")
    os.replace(tmp, dest)


def record_override(path: str, changes: dict[str, tuple[Any, Any]], config: dict[str, Any],
                    **where: Any) -> None:
    """Append an accepted override (``{key: (old, new)}``) to the run record and store the
    new resolved ``config``."""
    with open(os.path.join(path, RUN_FILE), encoding="utf-8") as f:
        record = json.load(f)
    record.setdefault("overrides", []).append(
        {"at_utc": _now(), **where, "changes": {k: {"old": o, "new": n}
                                                for k, (o, n) in changes.items()}})
    record["config"] = config
    write_record(path, record)


__all__ = ["KINDS", "RUN_FILE", "RunInfo", "check_output_file", "check_run_dir",
           "check_writable_dir", "claim_run_dir", "read_run", "record_override", "write_record"]
