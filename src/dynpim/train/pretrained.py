"""Hugging Face style local folders: ``save_pretrained(model, dir)`` writes ``config.json`` and
``model.safetensors`` (weights and BN bank, header metadata included); ``from_pretrained(dir)``
rebuilds the model from them. Local folders only, nothing is downloaded."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from safetensors.torch import load_file, save_file

from dynpim.errors import CheckpointError, MissingFileError
from dynpim.nn import DynamicNet, SubnetConfig

from .provenance import git_commit, safetensors_metadata, versions

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "dynpim-pretrained"


def save_pretrained(model: DynamicNet, directory: str,
                    configs: Sequence[SubnetConfig] | None = None) -> str:
    """Write ``model`` (every parameter and buffer, BN bank included) to ``directory``;
    ``configs``: its deployable sub-net configs (default: the banked ones). Returns the
    folder."""
    os.makedirs(directory, exist_ok=True)
    configs = list(configs) if configs is not None else model.banked_configs()
    config: dict[str, Any] = {
        "format": FORMAT, "model": {"name": model.name, "args": model.args,
                                    "input_size": list(model.input_size)},
        "configs": [list(c.widths) for c in configs],
        "preprocessing": model.preprocessing,
        "provenance": {"versions": versions(), "commit": git_commit()},
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = os.path.join(directory, WEIGHTS + ".tmp")
    save_file(tensors, tmp, metadata=safetensors_metadata(config))
    os.replace(tmp, os.path.join(directory, WEIGHTS))
    with open(os.path.join(directory, CONFIG + ".tmp"), "w") as f:
        json.dump(config, f, indent=1)
    os.replace(os.path.join(directory, CONFIG + ".tmp"), os.path.join(directory, CONFIG))
    return directory


def from_pretrained(directory: str, *, map_location: str = "cpu"
                    ) -> tuple[DynamicNet, list[SubnetConfig]]:
    """The model saved by :func:`save_pretrained` in ``directory`` and its configs."""
    from dynpim.models import create_model

    path = os.path.join(directory, CONFIG)
    if not os.path.isfile(path):
        raise MissingFileError(f"{directory!r} holds no {CONFIG} (not a save_pretrained folder)")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} file")
    model = create_model(config["model"]["name"], **config["model"]["args"])
    model.load_state_dict(load_file(os.path.join(directory, WEIGHTS), device=map_location))
    model.to(map_location)
    model.preprocessing = config.get("preprocessing")
    return model.eval(), [model.validate(c) for c in config.get("configs", [])]
