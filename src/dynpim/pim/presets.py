"""Hardware presets shipped as YAML files in ``dynpim/pim/presets`` (or any YAML path)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from ..defaults import DEFAULT_PRESET
from .hardware import Hardware, hardware_from_dict

__all__ = ["DEFAULT_PRESET", "list_presets", "load_preset", "preset_names"]


def _preset_dir():
    return resources.files("dynpim.pim") / "presets"


def preset_names() -> list[str]:
    """Names of the packaged presets, sorted."""
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml"))


def load_preset(name_or_path: str | Path = DEFAULT_PRESET) -> Hardware:
    """Load and validate a packaged preset by name, or a YAML file by path."""
    s = str(name_or_path)
    if s in preset_names():
        text = (_preset_dir() / f"{s}.yaml").read_text()
        label = s
    elif s.endswith((".yaml", ".yml")) or "/" in s:
        path = Path(s)
        if not path.is_file():
            raise FileNotFoundError(f"hardware preset file {s!r} not found")
        text, label = path.read_text(), path.name
    else:
        raise ValueError(f"unknown hardware preset {s!r}; known: {', '.join(preset_names())} "
                         "(or give a path to a .yaml file)")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{label}: not valid YAML: {e}") from None
    return hardware_from_dict(data, label)


def list_presets() -> list[dict[str, object]]:
    """One row per packaged preset: name, technology, description, counts of sourced and
    assumed parameters and the distinct non-assumption sources."""
    rows = []
    for name in preset_names():
        hw = load_preset(name)
        assumed = [k for k, v in hw.sources.items() if v.lower().startswith("assumption")]
        cited = sorted({v for v in hw.sources.values() if not v.lower().startswith("assumption")})
        rows.append({"name": name, "technology": hw.technology, "description": hw.description,
                     "parameters": len(hw.sources), "assumed": len(assumed), "sources": cited})
    return rows
