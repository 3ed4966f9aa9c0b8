"""One training step: a batch in, the weights updated, the batch's loss sums out.

The step never waits for the device: its sums come back as an NDArray the caller reads when
it wants (the loop reads each step's while the next one runs), so Python prepares batch
``i + 1`` while the engine computes batch ``i``. The anchors are matched to the labels on the
host (:meth:`SSDMultiBoxLoss.match`) while the engine runs the batch's forward pass; only the
first batch of each input size waits, for its anchors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import autograd

from .. import compat
from ..data.preprocess import normalize_batch
from ..model.spec import input_normalization
from ..model.ssd import TrainingHeads
from .loss import SSDMultiBoxLoss, to_multibox_labels
from .workers import Workers

__all__ = ['TrainStep', 'StepLosses']


@dataclass(frozen=True)
class StepLosses:
    """The losses of one step, each a sum over the (combined) batch divided by its positives."""

    cls_loss: float
    box_loss: float
    positives: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.cls_loss) and math.isfinite(self.box_loss)


def _normalized_parts(images: np.ndarray, contexts, normalization: dict):
    """The uint8 batch split over ``contexts``, each part normalized for its device (on the
    host for a CPU, after a uint8 upload elsewhere: :func:`normalize_batch`) with the
    network's ``mean`` and ``std``."""
    return [normalize_batch(part, ctx=c, **normalization)
            for part, c in zip(np.array_split(images, len(contexts)), contexts)]


class TrainStep:
    """Forward, MultiBoxTarget loss, backward and optimizer update of one batch.

    Parameters
    ----------
    net : ssd_zoo.SSD
        The network, its parameters on ``contexts``.
    trainer : mx.gluon.Trainer
        Updates the trainable parameters.
    contexts : sequence of mx.Context
        The batch is split over them (the loss is normalized by the positives of the whole
        batch, so the gradient does not depend on the split).
    workers : Workers, optional
        With a ``dist_sync`` KVStore the positives and losses are summed over the workers.
    loss : SSDMultiBoxLoss, optional
        Default: MultiBoxTarget matching with the defaults of :mod:`ssd_zoo.defaults`.

    Calling it with uint8 ``images (B, H, W, 3)``, pixel ``labels (B, M, >=5)`` and a learning
    rate returns the NDArray ``[positives, class loss sum, box loss sum]`` of the batch
    (combined over workers); :meth:`losses` turns it into :class:`StepLosses`. The targets
    are ``MultiBoxTarget``'s (:mod:`ssd_zoo.train.targets`).
    """

    def __init__(self, net, trainer, contexts: Sequence[mx.Context],
                 workers: Optional[Workers] = None, loss: Optional[SSDMultiBoxLoss] = None):
        self.net, self.trainer, self.contexts = net, trainer, list(contexts)
        self.workers = workers or Workers('device')
        self.loss = loss or SSDMultiBoxLoss()
        self.loss.hybridize()
        self._anchors = {}   # (height, width) -> the network's anchors (A, 4), on the host
        self._training_heads = None
        self._normalization = input_normalization(net)  # the spec's; fixed for the network

    def __call__(self, images: np.ndarray, labels: np.ndarray, lr: float) -> mx.nd.NDArray:
        self.trainer.set_learning_rate(lr)
        xs = _normalized_parts(images, self.contexts, self._normalization)
        height, width = images.shape[1:3]
        ys = np.array_split(to_multibox_labels(labels, width, height), len(self.contexts))
        home = self.contexts[0]
        with autograd.record():
            parts = []
            for x, y in zip(xs, ys):
                cls_preds, box_preds, anchors = self._heads(x)
                matches = self.loss.match(self._host_anchors(anchors, (height, width)), y)
                parts.append(self.loss.from_matches(cls_preds, box_preds, matches))
            # positives and loss sums of the combined batch (every device, every worker)
            local = mx.nd.concat(*[mx.nd.add_n(*[p[k].sum().as_in_context(home) for p in parts])
                                   for k in (2, 0, 1)], dim=0)
            sums = self.workers.sum_over_workers(local)
            num_pos = mx.nd.maximum(sums[0:1], 1.0)
            losses = [(c.sum() + b.sum()) / num_pos.as_in_context(c.context)
                      for c, b, _ in parts]
        autograd.backward(losses)
        self.trainer.step(1)
        return sums

    def _heads(self, x):
        """Predictions and normalized-corner anchors (:class:`ssd_zoo.model.ssd.TrainingHeads`),
        hybridized as the network is."""
        if self._training_heads is None:
            self._training_heads = TrainingHeads(self.net)
            if compat.is_hybridized(self.net):
                self._training_heads.hybridize(static_alloc=True, static_shape=True)
        return self._training_heads(x)

    def _host_anchors(self, anchors: mx.nd.NDArray, size) -> np.ndarray:
        """The anchors of an input size (normalized corners), copied to the host the first
        time (which waits for that forward pass): they depend on the input size only."""
        if size not in self._anchors:
            self._anchors[size] = anchors.asnumpy().reshape(-1, 4)
        return self._anchors[size]

    @staticmethod
    def losses(sums: mx.nd.NDArray) -> StepLosses:
        """Read (waiting for it) the step's normalized losses."""
        positives, cls_total, box_total = (float(v) for v in sums.asnumpy())
        num_pos = max(1.0, positives)
        return StepLosses(cls_total / num_pos, box_total / num_pos, positives)
