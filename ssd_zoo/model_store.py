"""Deprecated path: use :mod:`ssd_zoo.model.model_store` (see CHANGELOG.md)."""
from ._moved import redirect

redirect(__name__, 'ssd_zoo.model.model_store')
