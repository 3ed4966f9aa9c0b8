"""Deprecated path, kept for one release: use :mod:`ssd_zoo.deploy.onnx_export`."""
from .deploy.onnx_export import *  # noqa: F401,F403
from .deploy.onnx_export import OPSET  # noqa: F401
