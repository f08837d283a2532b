"""Dynamic layers, slots and sub-net configs, BN banks, the residual join, channel importance."""

from .bn import BankSnapshot, BNBank, calibrate_bn, set_sync_batchnorm
from .dynamic_net import DynamicNet
from .importance import channel_importance, reorder_channels
from .layers import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear
from .residual import Residual
from .slots import Slot, SubnetConfig, load_configs, save_configs
from .specs import LayerSpec, widths_matrix

__all__ = [
    "BNBank",
    "BankSnapshot",
    "DynamicBatchNorm2d",
    "DynamicConv2d",
    "DynamicLinear",
    "DynamicNet",
    "LayerSpec",
    "Residual",
    "Slot",
    "SubnetConfig",
    "calibrate_bn",
    "channel_importance",
    "load_configs",
    "reorder_channels",
    "save_configs",
    "set_sync_batchnorm",
    "widths_matrix",
]
