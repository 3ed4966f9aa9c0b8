"""Decoded training images kept in memory from one epoch to the next (``--cache-images``).

Decoding is half of what the loader does with the default flip-only augmentation: a 300 x 300
JPEG of the shapes data takes 0.4 ms of the ~0.9 ms of CPU per image (AMD EPYC, libjpeg-turbo
with SIMD: :mod:`.jpeg`), and on a 2-core machine every millisecond of it is taken from one
of MXNet's two OpenMP threads while the other waits at the next barrier. A dataset that fits
in memory can be decoded once, as YOLOv5's ``--cache ram`` does.
"""
from __future__ import annotations

import logging
import threading

from .base import load_item

log = logging.getLogger(__name__)

__all__ = ['DecodedImageCache', 'GIB']

GIB = 1 << 30


class DecodedImageCache:
    """``dataset.load(index)`` remembered for up to ``budget_bytes`` of decoded images.

    Parameters
    ----------
    dataset : DetectionDataset or any ``dataset[i] -> (image, label)``
        Items are read through its ``load`` (ssd_zoo's datasets: an undecodable image is
        replaced by the next readable one and named) or its ``[]``.
    budget_bytes : int
        Bytes of images to keep; items read once the budget is spent are decoded every time
        (logged once).

    Every call returns copies: a transform that writes into its input cannot change what the
    next epoch reads, and an item is the same whether it came from the file or the cache.
    """

    def __init__(self, dataset, budget_bytes: int):
        if budget_bytes < 0:
            raise ValueError('image cache budget must be >= 0 bytes, got %d' % budget_bytes)
        self.dataset, self.budget = dataset, int(budget_bytes)
        self.used = 0
        self._items = {}
        self._lock = threading.Lock()  # a thread worker and the main thread may both read
        self._full = False

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label, _ = self.load(index)
        return image, label

    def load(self, index: int):
        """``(image, label, skipped)`` of item ``index``, as :meth:`DetectionDataset.load`."""
        item = self._items.get(index)
        if item is None:
            item = load_item(self.dataset, index)
            self._keep(index, item)
        image, label, skipped = item
        return image.copy(), label.copy(), skipped

    def _keep(self, index: int, item) -> None:
        size = item[0].nbytes
        with self._lock:
            if index in self._items:
                return
            if self.used + size <= self.budget:
                self._items[index] = item
                self.used += size
            elif not self._full:
                self._full = True
                log.info('image cache full at %.2f GiB (%d of %d images): the others are '
                         'decoded every epoch; a larger --cache-images keeps more',
                         self.used / GIB, len(self._items), len(self.dataset))
