"""The images a user points the demo at: files and folders (searched recursively), each with
an output name of its own."""
from __future__ import annotations

import os
from collections import Counter
from typing import Dict, List, Sequence, Tuple

__all__ = ['IMAGE_EXTENSIONS', 'collect_images']

#: what OpenCV decodes, plus GIF (read with Pillow: OpenCV cannot)
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.gif')


def collect_images(inputs: Sequence[str]) -> Tuple[List[Tuple[str, str]], Counter]:
    """``([(image path, output name), ...], other files by extension)``.

    Folders are searched recursively, in sorted order. Output names are the paths relative to
    the inputs' common folder with ``.png`` for the extension (``sub/img.png``); where two
    images would get the same name (``img.jpg`` and ``img.png``) both keep their extension
    (``img.jpg.png``, ``img.png.png``).

    Raises
    ------
    FileNotFoundError
        An input is neither a file nor a folder.
    """
    found: List[str] = []
    others: Counter = Counter()
    for item in inputs:
        if os.path.isdir(item):
            for folder, subfolders, names in os.walk(item):
                subfolders.sort()
                for name in sorted(names):
                    ext = os.path.splitext(name)[1].lower()
                    if ext in IMAGE_EXTENSIONS:
                        found.append(os.path.join(folder, name))
                    else:
                        others[ext or '(no extension)'] += 1
        elif os.path.isfile(item):
            found.append(item)
        else:
            raise FileNotFoundError('%s is neither an image file nor a folder' % item)
    return list(_output_names(found).items()), others


def _output_names(paths: List[str]) -> Dict[str, str]:
    unique = list(dict.fromkeys(os.path.normpath(p) for p in paths))
    if not unique:
        return {}
    base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in unique])
    relative = [os.path.relpath(os.path.abspath(p), base) for p in unique]
    stems = Counter(os.path.splitext(r)[0] for r in relative)
    return {path: (os.path.splitext(rel)[0] if stems[os.path.splitext(rel)[0]] == 1 else rel)
            + '.png' for path, rel in zip(unique, relative)}
