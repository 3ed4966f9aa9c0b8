"""What every detection dataset returns, and the one policy every reader applies to boxes and
images (VOC, COCO, rec/lst, custom alike).

* A box reaching outside its image is clipped to it and counted.
* A box with no width or height after clipping (COCO train2017 has such, and annotation tools
  export them) is dropped and counted, its annotation named in the log and in
  ``dataset.dropped`` - as GluonCV, torchvision and mmdetection skip them. ``strict=True``
  (``--strict-data``) raises instead.
* An image that cannot be decoded while training or evaluating is replaced by the next
  readable image of the dataset, with that image's own labels (so nothing is mislabelled and a
  resumed or distributed run sees the same batches), counted and named; ``strict=True`` stops
  at once, naming the file.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import List, Optional, Sequence

import cv2
import numpy as np

from .classes import fold_name
from .jpeg import fast_decode

__all__ = ['DetectionDataset', 'read_image', 'decode_image', 'load_item', 'BadDataError',
           'LABEL_WIDTH', 'MAX_NAMED']

log = logging.getLogger(__name__)

#: label rows are ``[x1, y1, x2, y2, class, difficult]`` in pixels (GluonCV's convention)
LABEL_WIDTH = 6
#: dropped boxes named in the log (all of them are in ``dataset.dropped``)
MAX_NAMED = 10


class BadDataError(ValueError):
    """An annotation or image that cannot be used; the message names the file."""


def read_image(path: str) -> np.ndarray:
    """HWC RGB uint8 image (grayscale, RGBA and CMYK files converted; EXIF orientation applied;
    a GIF's first frame); an unreadable or corrupt file raises naming the path."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        data = b''
    image = decode_image(data)
    if image is None and path.lower().endswith('.gif'):
        return _read_with_pillow(path)  # OpenCV has no GIF decoder
    if image is None:
        raise BadDataError('cannot read image %s (missing, unreadable or not an image)' % path)
    return image


def decode_image(data: bytes) -> Optional[np.ndarray]:
    """HWC RGB uint8 pixels of an encoded image (what OpenCV's ``imdecode`` gives, JPEGs by
    libjpeg-turbo's SIMD build where the pixels are the same: :mod:`.jpeg`); None if OpenCV
    cannot decode it either."""
    image = fast_decode(data)
    if image is not None:
        return image
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_with_pillow(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert('RGB'))
    except (OSError, UnidentifiedImageError) as err:
        raise BadDataError('cannot read image %s: %s' % (path, err)) from None


def load_item(dataset, index: int):
    """``(image, label, skipped)`` of item ``index`` of any dataset: through
    :meth:`DetectionDataset.load` where it has one (ssd_zoo's datasets skip undecodable
    images), else ``dataset[index]`` with nothing skipped."""
    if hasattr(dataset, 'load'):
        return dataset.load(index)
    image, label = dataset[index]
    return image, label, ''


class DetectionDataset:
    """Base of the datasets: ``dataset[i] -> (image HWC RGB uint8, label (M, 6) float32)``.

    Subclasses fill ``self.classes``, ``self._paths`` (one image path per item) and
    ``self._labels`` (one label array per item) at construction, so that every annotation is
    parsed, and every problem reported, before training starts. ``self.report`` counts what
    was fixed or skipped, and is logged once.
    """

    def __init__(self, classes: Sequence[str], strict: bool = False,
                 errors: Optional[List[str]] = None):
        self.classes: List[str] = list(classes)
        folded = [fold_name(c) for c in self.classes]
        twice = sorted({c for c in self.classes if folded.count(fold_name(c)) > 1})
        if twice:
            raise BadDataError('class names %s appear more than once (compared without case '
                               'and spaces); every class needs its own name' % twice)
        self.strict = strict
        #: None: a malformed annotation raises; a list: it is appended there and its image
        #: left out (``ssd-zoo check-data`` names every one)
        self.errors = errors
        self._paths: List[str] = []
        self._labels: List[np.ndarray] = []
        self.report: Counter = Counter()
        #: where each dropped box was (annotation file and object)
        self.dropped: List[str] = []

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
        self.dropped += other.dropped

    def _malformed(self, err: BadDataError) -> None:
        """Raise ``err``, or collect it when the dataset collects errors."""
        if self.errors is None:
            raise err
        self.errors.append(str(err))

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
        if self.dropped:
            log.warning('%s: boxes without area dropped at %s%s', what,
                        '; '.join(self.dropped[:MAX_NAMED]),
                        ' and %d more' % (len(self.dropped) - MAX_NAMED)
                        if len(self.dropped) > MAX_NAMED else '')

    def check_box(self, box, width, height, where) -> Optional[List[float]]:
        """A ``[x1, y1, x2, y2]`` box clipped to the image (counted), or None for a box with
        no width or height (dropped, counted and named; with ``strict`` it raises)."""
        x1, y1, x2, y2 = box
        clipped = [min(max(x1, 0), width - 1), min(max(y1, 0), height - 1),
                   min(max(x2, 0), width - 1), min(max(y2, 0), height - 1)]
        if clipped != [x1, y1, x2, y2]:
            self.report['boxes clipped to their image'] += 1
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            problem = ('%s: box %s has no area inside the %dx%d image (need x2 > x1 and '
                       'y2 > y1)' % (where, [x1, y1, x2, y2], width, height))
            if self.strict:
                raise BadDataError(problem + '; without --strict-data such boxes are dropped '
                                   'and counted')
            self.report['boxes without area dropped'] += 1
            self.dropped.append(where)
            return None
        return clipped

    def load(self, index: int):
        """``(image, label, skipped)``: item ``index``, or - if its image cannot be decoded -
        the next readable item (``skipped`` then names the file replaced; with ``strict`` the
        error is raised). Deterministic: the same index always gives the same item."""
        for step in range(len(self)):
            key = (index + step) % len(self)
            try:
                image, label = self[key]
            except BadDataError as err:
                if self.strict:
                    raise BadDataError('%s (--strict-data stops at unreadable images; '
                                       'without it they are skipped and counted)' % err) \
                        from None
                log.warning('%s: skipped, replaced by the next readable image', err)
                continue
            return image, label, self._paths[index] if step else ''
        raise BadDataError('no image of the dataset can be read (first: %s)'
                           % (self._paths[0] if self._paths else 'none'))
