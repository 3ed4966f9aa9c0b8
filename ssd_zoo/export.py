"""Deprecated path (since 0.2.0, removed in 0.4.0): use :mod:`ssd_zoo.deploy.export`.

``import_module`` is now :func:`ssd_zoo.deploy.export.load_module` (the old name clashed with
the legacy API's ``symbol_builder.import_module``).
"""
from ._moved import warn_moved

warn_moved(__name__, 'ssd_zoo.deploy.export')
from .deploy.export import *  # noqa: F401,F403
from .deploy.export import load_module as import_module  # noqa: F401
from .deploy.exportable import check_exportable, network_context  # noqa: F401
