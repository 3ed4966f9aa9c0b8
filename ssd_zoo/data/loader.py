"""Batches for training and evaluation, reproducible from (seed, epoch, index).

The sampler hands the dataset keys ``epoch * len(dataset) + index``; the dataset derives the
sample's random generator from ``(seed, epoch, index)``. Worker processes therefore produce
the same augmentation as the main process, and a resumed run sees exactly the batches an
uninterrupted one would.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, List, Optional

import cv2
import numpy as np
from mxnet.gluon.data import DataLoader, Dataset, Sampler

from ..defaults import MEAN_PIXEL
from .base import LABEL_WIDTH, load_item
from .cache import GIB, DecodedImageCache

log = logging.getLogger(__name__)

__all__ = ['AugmentedDataset', 'EpochBatchSampler', 'Batch', 'batchify', 'make_loader',
           'uses_threads', 'WORKER_KINDS']


class AugmentedDataset(Dataset):
    """``key -> transform(*dataset[index], rng)`` with ``rng`` seeded by (seed, epoch, index)."""

    def __init__(self, dataset, transform, seed: int = 0):
        self.dataset, self.transform, self.seed = dataset, transform, seed

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = divmod(int(key), len(self.dataset))
        rng = np.random.default_rng([self.seed, epoch, index])
        image, label, skipped = load_item(self.dataset, index)
        return tuple(self.transform(image, label, rng)) + (skipped,)


class EpochBatchSampler(Sampler):
    """Batches of keys for the current epoch (``set_epoch``); shuffled by (seed, epoch).

    ``shard=(rank, count)`` keeps every ``count``-th sample from ``rank`` (distributed
    training): the ``count`` workers' batches ``i`` together are the samples of batch ``i`` of
    a single process with ``count`` times the batch size. Shards are cut to the same length,
    so every worker runs the same number of steps (``dist_sync`` would hang otherwise).
    ``drop_last`` drops the incomplete last batch (fixed shapes while training).
    """

    def __init__(self, length: int, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = True, shard=(0, 1)):
        if batch_size < 1:
            raise ValueError('batch size must be at least 1, got %d' % batch_size)
        self.length, self.batch_size = length, batch_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.shard = shard
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation the next iteration yields."""
        self.epoch = epoch

    def _order(self) -> np.ndarray:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length) \
            if self.shuffle else np.arange(self.length)
        rank, count = self.shard
        return order[:len(order) - len(order) % count][rank::count]

    def __iter__(self) -> Iterator[List[int]]:
        keys = self._order() + self.epoch * self.length
        stop = len(keys) - len(keys) % self.batch_size if self.drop_last else len(keys)
        for start in range(0, stop, self.batch_size):
            yield [int(k) for k in keys[start:start + self.batch_size]]

    def __len__(self) -> int:
        n = len(self._order())
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class Batch(tuple):
    """``(images, labels)`` of one batch, and ``skipped``: the files of the batch that could
    not be decoded, and ``replaced``: the rows that hold their replacements (see
    :meth:`DetectionDataset.load`; evaluation leaves those rows out)."""

    def __new__(cls, images, labels, skipped=(), replaced=()):
        batch = super().__new__(cls, (images, labels))
        batch.skipped, batch.replaced = list(skipped), list(replaced)
        return batch

    def __reduce__(self):  # crosses from worker processes with its skipped files
        return Batch, (self[0], self[1], self.skipped, self.replaced)


def batchify(samples) -> Batch:
    """Stack uint8 images; pad labels with -1 rows to the batch's largest object count.

    Images of different sizes (:class:`~ssd_zoo.data.transforms.KeepAspectTransform`) are
    padded at the bottom and right to the batch's largest with the mean pixel, which
    normalizes to 0 (GluonCV pads normalized images with 0); boxes keep their coordinates.
    Returns NumPy arrays (they cross from worker processes by plain pickling); the training
    and evaluation loops move them to the devices.
    """
    images = _stack_padded([s[0] for s in samples])
    most = max(1, max(len(s[1]) for s in samples))
    labels = np.full((len(samples), most, LABEL_WIDTH), -1, dtype=np.float32)
    for i, sample in enumerate(samples):
        label = sample[1]
        labels[i, :len(label), :label.shape[1]] = label[:, :LABEL_WIDTH]
    replaced = [i for i, s in enumerate(samples) if len(s) > 2 and s[2]]
    return Batch(images, labels, [samples[i][2] for i in replaced], replaced)


def _stack_padded(images):
    if len({im.shape for im in images}) == 1:
        return np.stack(images)
    height, width = (max(im.shape[k] for im in images) for k in (0, 1))
    out = np.empty((len(images), height, width, 3), np.uint8)
    out[:] = MEAN_PIXEL
    for k, image in enumerate(images):
        out[k, :image.shape[0], :image.shape[1]] = image
    return out


#: ``make_loader(workers=...)``: how its ``num_workers`` workers run
WORKER_KINDS = ('auto', 'thread', 'process')


def uses_threads(workers: str, num_workers: int) -> bool:
    """Whether ``num_workers`` loader workers of kind ``workers`` run as threads.

    ``'auto'`` runs a single worker as a thread of this process and several as processes. One
    thread costs less than one process (plainnet SSD300, batch 16, 2 cores: 61 img/s against
    58, with the batches made in advance 64): a process pickles every batch twice across a
    pipe, the parent's result thread unpickles it, and the OS schedules one more process
    against MXNet's OpenMP threads, while a thread hands the batch over as it is, and
    decoding and NumPy copies release the GIL. Several workers need processes: the Python
    parts of augmentation would take turns on the GIL.
    """
    if workers not in WORKER_KINDS:
        raise ValueError('loader workers %r: must be one of %s (--worker-kind)'
                         % (workers, ', '.join(WORKER_KINDS)))
    if workers == 'auto':
        return num_workers == 1
    return workers == 'thread'


def make_loader(dataset, transform, batch_size: int, shuffle: bool, seed: int = 0,
                num_workers: int = 0, drop_last: Optional[bool] = None, shard=(0, 1),
                workers: str = 'auto', cache_bytes: int = 0):
    """A DataLoader over ``dataset`` through ``transform``; returns (loader, sampler).

    ``shard=(rank, count)``: this worker's part of every epoch (see :class:`EpochBatchSampler`).
    ``num_workers`` workers (0: batches are made when asked for, in the caller's thread) run
    as ``workers``: one of :data:`WORKER_KINDS` (see :func:`uses_threads`). Either way a batch
    depends on (seed, epoch, index) only. ``cache_bytes``: decoded images kept in memory for
    the next epochs (:class:`~ssd_zoo.data.cache.DecodedImageCache`), split evenly between
    worker processes (each has its own memory), so that together they keep at most that.
    """
    threads = uses_threads(workers, num_workers)
    if cache_bytes:
        processes = num_workers if num_workers and not threads else 1
        dataset = DecodedImageCache(dataset, cache_bytes // processes)
        if processes > 1:
            log.info('keeping up to %.2f GiB of decoded images in memory (%.2f GiB in each of '
                     '%d worker processes)', cache_bytes / GIB, dataset.budget / GIB, processes)
        else:
            log.info('keeping up to %.2f GiB of decoded images in memory', cache_bytes / GIB)
    sampler = EpochBatchSampler(len(dataset), batch_size, shuffle, seed,
                                shuffle if drop_last is None else drop_last, shard)
    with one_opencv_thread_in_children():
        loader = DataLoader(AugmentedDataset(dataset, transform, seed), batch_sampler=sampler,
                            batchify_fn=batchify, num_workers=num_workers,
                            thread_pool=threads)
    return loader, sampler


@contextmanager
def one_opencv_thread_in_children():
    """Processes forked inside the block (a loader's workers, forked when it is built; the
    shapes generator's) inherit one OpenCV thread each, else every one of them starts a thread
    per core, on top of MXNet's one per core in the parent. It cannot be set in the child
    itself: ``cv2.setNumThreads`` in a child forked while the parent's OpenCV thread pool was
    running never returns."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)
