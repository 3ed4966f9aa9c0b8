"""Training the legacy symbols with ``mx.mod.Module``: a data iterator and the metric.

    train_iter = DetectionIter(train_dataset, batch_size=16, data_shape=300)
    mod = mx.mod.Module(get_symbol_train(**config), label_names=('label',))
    mod.fit(train_iter, eval_metric=MultiBoxMetric(), optimizer='sgd', ...)

The iterator runs ssd_zoo's data pipeline (augmentation, reproducible order) and delivers what
the legacy symbols take: mean-subtracted pixels ``(B, 3, H, W)`` and labels ``(B, M, 5)`` rows
``[cls, xmin, ymin, xmax, ymax]`` normalized, padded with -1 rows to ``max_objects``.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from ..data import TrainTransform, ValTransform, make_loader
from ..data.transforms import normalize_batch
from ..train.loss import to_multibox_labels

__all__ = ['DetectionIter', 'MultiBoxMetric']


class DetectionIter(mx.io.DataIter):
    """``mx.io.DataIter`` over a detection dataset for the legacy symbols.

    Parameters
    ----------
    dataset : DetectionDataset
        Images and pixel labels ``[x1, y1, x2, y2, cls, ...]``.
    batch_size, data_shape : int
        Batch size and square input side.
    train : bool
        Shuffle, drop the last incomplete batch and augment (``augment`` options of
        :class:`~ssd_zoo.data.TrainTransform`); otherwise a fixed order and resizing only.
    max_objects : int
        Label rows per image (the symbol's label shape is fixed).
    """

    def __init__(self, dataset, batch_size: int, data_shape: int, train: bool = True,
                 max_objects: int = 50, seed: int = 0, augment=None, num_workers: int = 0):
        super().__init__(batch_size)
        transform = TrainTransform(data_shape, **(augment or {})) if train \
            else ValTransform(data_shape)
        self._loader, self._sampler = make_loader(dataset, transform, batch_size, shuffle=train,
                                                  seed=seed, num_workers=num_workers,
                                                  drop_last=True)
        self.data_shape, self.max_objects = data_shape, max_objects
        self.epoch = 0
        self._batches = None
        self.provide_data = [mx.io.DataDesc('data', (batch_size, 3, data_shape, data_shape))]
        self.provide_label = [mx.io.DataDesc('label', (batch_size, max_objects, 5))]

    def reset(self):
        self._batches = None

    def next(self):
        if self._batches is None:
            self._sampler.set_epoch(self.epoch)
            self.epoch += 1
            self._batches = iter(self._loader)
        images, labels = next(self._batches)  # StopIteration ends the epoch
        return mx.io.DataBatch([self._pixels(images)], [self._labels(labels)], pad=0)

    @staticmethod
    def _pixels(images):
        return normalize_batch(images, std=(1 / 255.0,) * 3)

    def _labels(self, labels):
        if labels.shape[1] > self.max_objects:
            raise ValueError('a batch has an image with %d objects but the iterator pads labels '
                             'to max_objects=%d: raise max_objects'
                             % (labels.shape[1], self.max_objects))
        multibox = to_multibox_labels(mx.nd.array(labels), self.data_shape, self.data_shape)
        out = np.full((labels.shape[0], self.max_objects, 5), -1, dtype=np.float32)
        out[:, :labels.shape[1]] = multibox.asnumpy()
        return mx.nd.array(out)


class MultiBoxMetric(mx.metric.EvalMetric):
    """Cross-entropy of the mined anchors and smooth-L1 per positive, from the outputs of
    :func:`~ssd_zoo.symbol.symbol_builder.get_symbol_train`."""

    def __init__(self, eps: float = 1e-8):
        super().__init__('MultiBox')
        self.eps = eps
        self.name = ['CrossEntropy', 'SmoothL1']
        self.num = 2
        self.reset()

    def reset(self):
        self.num_inst = [0, 0]
        self.sum_metric = [0.0, 0.0]
        self.global_num_inst = [0, 0]
        self.global_sum_metric = [0.0, 0.0]

    def update(self, labels, preds):
        cls_prob = preds[0].asnumpy()           # (B, C+1, N)
        loc_loss = preds[1].asnumpy()           # (B, 4N)
        cls_label = preds[2].asnumpy()          # (B, N), -1 ignored
        valid = cls_label >= 0
        batch, anchor = np.nonzero(valid)
        probs = cls_prob[batch, cls_label[valid].astype(int), anchor]
        positives = int((cls_label > 0).sum())
        for k, (total, count) in enumerate(((-np.log(probs + self.eps).sum(), valid.sum()),
                                            (loc_loss.sum(), positives))):
            self.sum_metric[k] += float(total)
            self.num_inst[k] += int(count)
            self.global_sum_metric[k] += float(total)
            self.global_num_inst[k] += int(count)

    def get(self):
        values = [s / n if n else float('nan') for s, n in zip(self.sum_metric, self.num_inst)]
        return list(self.name), values

    def get_global(self):
        values = [s / n if n else float('nan')
                  for s, n in zip(self.global_sum_metric, self.global_num_inst)]
        return list(self.name), values
