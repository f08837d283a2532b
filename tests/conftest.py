"""Shared test settings: single-threaded torch for predictable speed on 2-core CI."""

import torch

torch.set_num_threads(1)
