"""Old module paths: each warns once (``DeprecationWarning`` naming the new path and the
release that removes it) and then serves the module at its new path."""
from __future__ import annotations

import importlib
import sys
import warnings

#: the release that removes the old paths (CHANGELOG.md lists what moved where)
REMOVED_IN = '0.4.0'


def warn_moved(old: str, new: str) -> None:
    """Warn that module ``old`` is now ``new``."""
    warnings.warn('%s moved to %s; the old path is removed in ssd_zoo %s'
                  % (old, new, REMOVED_IN), DeprecationWarning, stacklevel=4)


def redirect(old: str, new: str) -> None:
    """Warn, then make ``old`` the very module ``new`` (so private names resolve too)."""
    warn_moved(old, new)
    sys.modules[old] = importlib.import_module(new)
