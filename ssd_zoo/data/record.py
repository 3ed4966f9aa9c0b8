"""MXNet example-format detection data: ``.lst`` files and ``.rec/.idx`` packed by im2rec.

A ``.lst`` line is ``index \\t A \\t B \\t [extra header] \\t objects... \\t path`` where ``A``
is the header width (2 or more), ``B`` the object width (5, or 6 with a difficult flag), and
each object is ``class x1 y1 x2 y2 [difficult]`` in coordinates normalized to [0, 1]. A
``.rec`` record carries the same numbers as its label (``im2rec --pack-label``).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np

from .base import BadDataError, DetectionDataset, decode_image

__all__ = ['LstDetection', 'RecordDetection', 'parse_packed_label']


def parse_packed_label(values, width: int, height: int, where: str, dataset) -> list:
    """Label rows in pixels from a packed MXNet detection label."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if len(values) < 2:
        raise BadDataError('%s: label has %d numbers, need a header [A, B, ...]'
                           % (where, len(values)))
    header, object_width = int(values[0]), int(values[1])
    if header < 2 or object_width < 5:
        raise BadDataError('%s: header width %d / object width %d (need >= 2 and >= 5)'
                           % (where, header, object_width))
    body = values[header:]
    if len(body) % object_width:
        raise BadDataError('%s: %d label numbers do not divide into objects of %d'
                           % (where, len(body), object_width))
    rows = []
    for k, obj in enumerate(body.reshape(-1, object_width)):
        cls = int(obj[0])
        if not 0 <= cls < len(dataset.classes):
            raise BadDataError('%s object %d: class %d outside 0..%d (%d classes given)'
                               % (where, k, cls, len(dataset.classes) - 1,
                                  len(dataset.classes)))
        box = list(obj[1:5] * [width, height, width, height])
        difficult = int(obj[5]) if object_width > 5 else 0
        box = dataset.check_box(box, width, height, '%s object %d' % (where, k))
        if box is not None:
            rows.append(box + [cls, difficult])
    return rows


class LstDetection(DetectionDataset):
    """Images listed in a ``.lst`` file (paths relative to ``root``)."""

    def __init__(self, lst_file: str, root: str, classes: Sequence[str], strict: bool = False,
                 errors: Optional[list] = None):
        super().__init__(classes, strict, errors)
        with open(lst_file, encoding='utf-8-sig') as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        self._read_line(line, root, '%s line %d' % (lst_file, number))
                    except BadDataError as err:
                        self._malformed(err)
        self._log_report(lst_file)

    def _read_line(self, line: str, root: str, where: str) -> None:
        parts = line.rstrip('\n').split('\t')
        if len(parts) < 4:
            raise BadDataError('%s: expected "index, label..., path" separated by tabs' % where)
        path = os.path.join(root, parts[-1])
        try:
            values = [float(v) for v in parts[1:-1]]
        except ValueError:
            raise BadDataError('%s: label numbers are not numbers' % where) from None
        size = _image_size(path)
        if size is None:
            raise BadDataError('%s: cannot read image %s' % (where, path))
        self._add(path, parse_packed_label(values, size[0], size[1], where, self))


def _image_size(path: str):
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return None if image is None else (image.shape[1], image.shape[0])


def _unpack_decoded(packed: bytes, where: str):
    """``(header, HWC RGB image)`` of one packed record, the image decoded as every reader
    decodes (:func:`~.base.decode_image`); an undecodable image raises naming ``where``."""
    import mxnet as mx
    header, encoded = mx.recordio.unpack(packed)
    image = decode_image(encoded)
    if image is None:
        raise BadDataError('%s: the image does not decode' % where)
    return header, image


class RecordDetection(DetectionDataset):
    """Images and labels packed in ``.rec`` (with its ``.idx``) by ``im2rec --pack-label``."""

    def __init__(self, rec_file: str, classes: Sequence[str], idx_file: Optional[str] = None,
                 strict: bool = False, errors: Optional[list] = None):
        import mxnet as mx
        super().__init__(classes, strict, errors)
        idx_file = idx_file or os.path.splitext(rec_file)[0] + '.idx'
        for path in (rec_file, idx_file):
            if not os.path.isfile(path):
                raise FileNotFoundError('%s does not exist (a RecordIO dataset needs .rec and '
                                        '.idx)' % path)
        self._rec_file, self._idx_file = rec_file, idx_file
        record = mx.recordio.MXIndexedRecordIO(idx_file, rec_file, 'r')
        self._keys = list(record.keys)
        readable = []
        for key in self._keys:
            where = self._where(key)
            try:
                header, image = _unpack_decoded(record.read_idx(key), where)
                rows = parse_packed_label(header.label, image.shape[1], image.shape[0], where,
                                          self)
            except BadDataError as err:
                self._malformed(err)
                continue
            self._add('%s#%s' % (rec_file, key), rows)
            readable.append(key)
        self._keys = readable
        record.close()
        self._record = None
        self._log_report(rec_file)

    def __getitem__(self, index: int):
        import mxnet as mx
        if self._record is None:  # opened lazily: each worker process has its own handle
            self._record = mx.recordio.MXIndexedRecordIO(self._idx_file, self._rec_file, 'r')
        key = self._keys[index]
        _, image = _unpack_decoded(self._record.read_idx(key), self._where(key))
        return image, self._labels[index].copy()

    def _where(self, key) -> str:
        return '%s record %s' % (self._rec_file, key)

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_record'] = None
        return state
