"""Deprecated path, kept for one release: use :mod:`ssd_zoo.deploy.agreement`."""
from .deploy.agreement import *  # noqa: F401,F403
