"""Dynamic layers, slots and sub-net configs, BN banks, the residual join, channel importance,
and the layer table (configs -> layer widths -> GEMM dimensions)."""

from .bn import BankSnapshot, BNBank, calibrate_bn, set_sync_batchnorm
from .dynamic_net import DynamicNet
from .importance import channel_importance, reorder_channels
from .layer_table import LayerTable
from .layers import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear
from .residual import Residual
from .slots import Slot, SubnetConfig, load_configs, save_configs, validate_configs
from .specs import LayerGeometry, LayerSpec, gemm_dims, widths_matrix

__all__ = [
    "BNBank",
    "BankSnapshot",
    "DynamicBatchNorm2d",
    "DynamicConv2d",
    "DynamicLinear",
    "DynamicNet",
    "LayerGeometry",
    "LayerSpec",
    "LayerTable",
    "Residual",
    "Slot",
    "SubnetConfig",
    "calibrate_bn",
    "channel_importance",
    "gemm_dims",
    "load_configs",
    "reorder_channels",
    "save_configs",
    "set_sync_batchnorm",
    "validate_configs",
    "widths_matrix",
]
