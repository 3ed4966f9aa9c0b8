"""Deprecated path (since 0.2.0, removed in 0.4.0): use :mod:`ssd_zoo.deploy.loading`."""
from ._moved import warn_moved

warn_moved(__name__, 'ssd_zoo.deploy.loading')
from ._moved import warn_moved

warn_moved(__name__, 'ssd_zoo.deploy.loading')
from .deploy.loading import *  # noqa: F401,F403
from .deploy.model_info import (  # noqa: F401
    INFO_SUFFIX,
    NORMALIZED_INPUT,
    UINT8_INPUT,
    read_model_info,
    write_model_info,
)
