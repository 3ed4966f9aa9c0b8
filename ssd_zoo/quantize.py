"""Deprecated path (since 0.2.0, removed in 0.4.0): use :mod:`ssd_zoo.deploy.quantize`."""
from ._moved import warn_moved

warn_moved(__name__, 'ssd_zoo.deploy.quantize')
from .deploy.quantize import *  # noqa: F401,F403
