"""Deprecated path: use :mod:`ssd_zoo.train.recipe` (see CHANGELOG.md)."""
from .._moved import redirect

redirect(__name__, 'ssd_zoo.train.recipe')
