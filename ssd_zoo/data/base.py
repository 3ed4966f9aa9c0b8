"""What every detection dataset returns, and the checks they share on boxes and images."""
from __future__ import annotations

import logging
from collections import Counter
from typing import List, Sequence

import cv2
import numpy as np

__all__ = ['DetectionDataset', 'read_image', 'BadDataError', 'LABEL_WIDTH']

log = logging.getLogger(__name__)

#: label rows are ``[x1, y1, x2, y2, class, difficult]`` in pixels (GluonCV's convention)
LABEL_WIDTH = 6


class BadDataError(ValueError):
    """An annotation or image that cannot be used; the message names the file."""


def read_image(path: str) -> np.ndarray:
    """HWC RGB uint8 image; an unreadable or corrupt file raises naming the path."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise BadDataError('cannot read image %s (missing, unreadable or not an image)' % path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class DetectionDataset:
    """Base of the datasets: ``dataset[i] -> (image HWC RGB uint8, label (M, 6) float32)``.

    Subclasses fill ``self.classes``, ``self._paths`` (one image path per item) and
    ``self._labels`` (one label array per item) at construction, so that every annotation is
    parsed, and every problem reported, before training starts. ``self.report`` counts what
    was fixed or skipped, and is logged once.
    """

    def __init__(self, classes: Sequence[str]):
        self.classes: List[str] = list(classes)
        self._paths: List[str] = []
        self._labels: List[np.ndarray] = []
        self.report: Counter = Counter()

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, index: int):
        return read_image(self._paths[index]), self._labels[index].copy()

    def image_path(self, index: int) -> str:
        """File of item ``index``."""
        return self._paths[index]

    def label(self, index: int) -> np.ndarray:
        """Label of item ``index`` without reading the image."""
        return self._labels[index].copy()

    def extend(self, other: 'DetectionDataset') -> None:
        """Append the items (and the report) of another dataset of the same classes."""
        if list(other.classes) != self.classes:
            raise ValueError('cannot join datasets of classes %s and %s'
                             % (self.classes, list(other.classes)))
        self._paths += other._paths
        self._labels += other._labels
        self.report.update(other.report)

    def _add(self, path: str, rows: List[List[float]]) -> None:
        label = np.asarray(rows, dtype=np.float32).reshape(-1, LABEL_WIDTH)
        if not len(label):
            self.report['images without objects'] += 1
        self._paths.append(path)
        self._labels.append(label)

    def _log_report(self, what: str) -> None:
        if self.report:
            log.warning('%s: %s', what, ', '.join('%d %s' % (n, k)
                                                  for k, n in sorted(self.report.items())))

    def check_box(self, box, width, height, where) -> List[float]:
        """Clip a ``[x1, y1, x2, y2]`` box to the image (counted); an empty box raises."""
        x1, y1, x2, y2 = box
        clipped = [min(max(x1, 0), width - 1), min(max(y1, 0), height - 1),
                   min(max(x2, 0), width - 1), min(max(y2, 0), height - 1)]
        if clipped != [x1, y1, x2, y2]:
            self.report['boxes clipped to their image'] += 1
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            raise BadDataError('%s: box %s is empty inside the %dx%d image (need x2 > x1 and '
                               'y2 > y1)' % (where, [x1, y1, x2, y2], width, height))
        return clipped
