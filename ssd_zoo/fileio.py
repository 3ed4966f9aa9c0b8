"""Files that are either complete or absent: every writer of the package goes through here."""
from __future__ import annotations

import contextlib
import json
import os
from typing import Iterator

__all__ = ['atomic_path', 'write_json']


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary name next to ``path``; move it into place when the block succeeds.

    A killed run leaves either the old file or the new one, never half of one. The temporary
    name is unique to the process, so several processes (the workers of a distributed run)
    may write the same file at once. The extension is kept (``x.tmp123.json``) for writers
    that choose the format by it. On an error the temporary file is removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(path)
    tmp = '%s.tmp%d%s' % (stem, os.getpid(), ext)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, value) -> str:
    """Write ``value`` as indented JSON, atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w') as f:
            json.dump(value, f, indent=1)
    return path
