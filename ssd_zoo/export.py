"""Deprecated path, kept for one release: use :mod:`ssd_zoo.deploy` (``ssd_zoo.deploy.export``).

``import_module`` is now :func:`ssd_zoo.deploy.export.load_module` (the old name clashed with
the legacy API's ``symbol_builder.import_module``).
"""
from .deploy.common import check_exportable, network_context  # noqa: F401
from .deploy.export import *  # noqa: F401,F403
from .deploy.export import load_module as import_module  # noqa: F401
