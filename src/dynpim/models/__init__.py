"""Model zoo of dynamic networks and its registry."""

from . import lenet, mobilenet, resnet, vgg  # noqa: F401  (registers the builders)
from .registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
