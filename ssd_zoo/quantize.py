"""Deprecated path, kept for one release: use :mod:`ssd_zoo.deploy.quantize`."""
from .deploy.quantize import *  # noqa: F401,F403
