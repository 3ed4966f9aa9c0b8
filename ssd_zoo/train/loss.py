"""SSD training loss: ``MultiBoxTarget``'s targets (from the operator, or matched on the host
and mined on the device, :mod:`.targets`), softmax cross-entropy and smooth L1."""
from __future__ import annotations

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import HybridBlock

from ..defaults import IGNORE_LABEL, MATCH_IOU, NEGATIVE_IOU, NEGATIVE_RATIO, VARIANCES
from .targets import Matches, device_targets, match_anchors

__all__ = ['SSDMultiBoxLoss', 'to_multibox_labels']


def to_multibox_labels(labels, width: int, height: int):
    """Pixel labels ``(B, M, >=5) [x1, y1, x2, y2, cls, ...]`` -> ``(B, M, 5) [cls, x1/W, ...]``.

    ``labels`` is a NumPy array or an NDArray (the result is of the same kind); padding rows
    (class -1) become all -1, as ``MultiBoxTarget`` requires.
    """
    on_device = isinstance(labels, mx.nd.NDArray)
    pixels = labels.asnumpy() if on_device else np.asarray(labels, np.float32)
    scale = np.array([1.0 / width, 1.0 / height] * 2, np.float32)
    out = np.concatenate([pixels[..., 4:5], pixels[..., :4] * scale], axis=-1)
    out[pixels[..., 4] < 0] = -1
    return mx.nd.array(out, ctx=labels.context) if on_device else out


class _TargetLoss(HybridBlock):
    """The loss sums of one batch given its targets (``MultiBoxTarget``'s three outputs)."""

    def __init__(self, box_weight, **kwargs):
        super().__init__(**kwargs)
        self._box_weight = box_weight

    def hybrid_forward(self, F, cls_preds, box_preds, loc_target, loc_mask, cls_target):  # pylint: disable=arguments-differ
        loc_target, loc_mask, cls_target = [F.stop_gradient(t) for t in
                                            (loc_target, loc_mask, cls_target)]
        log_probs = F.log_softmax(cls_preds, axis=-1)
        picked = F.pick(log_probs, F.relu(cls_target), axis=-1)  # ignored rows pick class 0
        cls_loss = F.sum(-picked * (cls_target >= 0), axis=1)
        diff = (box_preds.reshape((0, -1)) - loc_target) * loc_mask
        box_loss = F.sum(F.smooth_l1(diff, scalar=1.0), axis=1) * self._box_weight
        num_pos = F.sum(cls_target > 0, axis=1)
        return cls_loss, box_loss, num_pos


#: normalized corners of anchors reaching past the image stay well below this; pixels exceed it
PIXEL_LIKE = 4.0


class SSDMultiBoxLoss(HybridBlock):
    """Softmax cross-entropy over matched and mined anchors + smooth L1 over matched ones.

    ``MultiBoxTarget`` matches every ground truth to its best anchor, then every anchor with
    IoU > ``overlap_threshold``; it keeps ``negative_ratio`` negatives per positive, the ones
    the network finds hardest (lowest background probability) among anchors with IoU <
    ``negative_thresh``. Everything else is ignored.

    Called as a block, the operator computes the targets. The training step instead calls
    :meth:`match` on the host (while the engine runs the forward pass) and
    :meth:`from_matches` on the predictions: the same targets (:mod:`.targets`), without the
    operator's single-threaded kernel in the engine's way.

    Returns per-sample sums, not means: ``(cls_loss (B,), box_loss (B,), num_pos (B,))``. The
    caller divides by the number of positives of the whole batch (over every device), which
    makes the gradient independent of how the batch is split.

    Notes
    -----
    ``MultiBoxTarget`` ignores every anchor of an image without objects (no positives, so no
    negatives are mined); such images contribute no loss.
    """

    def __init__(self, overlap_threshold=MATCH_IOU, negative_ratio=NEGATIVE_RATIO,
                 negative_thresh=NEGATIVE_IOU, box_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self._target = dict(overlap_threshold=overlap_threshold, ignore_label=IGNORE_LABEL,
                            negative_mining_ratio=negative_ratio,
                            negative_mining_thresh=negative_thresh, variances=VARIANCES)
        with self.name_scope():
            self.criterion = _TargetLoss(box_weight)

    @property
    def target_options(self) -> dict:
        """The ``MultiBoxTarget`` options of this loss (matching, mining, variances)."""
        return dict(self._target)

    def hybrid_forward(self, F, cls_preds, box_preds, anchors, labels):  # pylint: disable=arguments-differ
        """``anchors``: ``(1, N, 4)`` normalized corners, as ``MultiBoxTarget`` takes them
        (:meth:`ssd_zoo.SSD.heads`, or :func:`ssd_zoo.model.anchors.corner_anchors` of the
        train-mode output); ``labels``: ``(B, M, 5)`` ``[cls, x1, y1, x2, y2]`` normalized,
        padding -1 at the end."""
        if isinstance(anchors, mx.nd.NDArray) and anchors.max().asscalar() > PIXEL_LIKE:
            raise ValueError('SSDMultiBoxLoss takes anchors as normalized corners; these look '
                             'like the train-mode output (GluonCV\'s pixel cx, cy, w, h): pass '
                             'ssd_zoo.model.anchors.corner_anchors(anchors, height, width)')
        targets = F.contrib.MultiBoxTarget(anchors, labels, cls_preds.transpose((0, 2, 1)),
                                           **self._target)
        return self.criterion(cls_preds, box_preds, *targets)

    def match(self, anchors: np.ndarray, labels: np.ndarray) -> Matches:
        """Host matching of ``anchors (A, 4)`` to normalized ``labels (B, M, 5)`` (NumPy)."""
        return match_anchors(anchors, labels, **self._target)

    def from_matches(self, cls_preds, box_preds, matches: Matches):
        """The loss sums of predictions whose targets :meth:`match` computed: mines their
        hard negatives on the predictions' device, then as calling the block."""
        with autograd.pause():
            targets = device_targets(cls_preds.detach(), matches, self._target['ignore_label'])
        return self.criterion(cls_preds, box_preds, *targets)
