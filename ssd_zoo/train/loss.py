"""SSD training loss on MXNet's ``MultiBoxTarget``: matching and hard negatives on the device."""
from __future__ import annotations

from mxnet.gluon import HybridBlock

from ..defaults import IGNORE_LABEL, MATCH_IOU, NEGATIVE_IOU, NEGATIVE_RATIO, VARIANCES

__all__ = ['SSDMultiBoxLoss', 'to_multibox_labels']


def to_multibox_labels(labels, width: int, height: int):
    """Pixel labels ``(B, M, >=5) [x1, y1, x2, y2, cls, ...]`` -> ``(B, M, 5) [cls, x1/W, ...]``.

    ``labels`` is an NDArray; padding rows (class -1) become all -1, as ``MultiBoxTarget``
    requires.
    """
    import mxnet as mx
    boxes = labels.slice_axis(axis=-1, begin=0, end=4)
    cls = labels.slice_axis(axis=-1, begin=4, end=5)
    scale = mx.nd.array([1.0 / width, 1.0 / height] * 2, ctx=labels.context).reshape((1, 1, 4))
    out = mx.nd.concat(cls, mx.nd.broadcast_mul(boxes, scale), dim=-1)
    return mx.nd.where(mx.nd.broadcast_like(cls, out) >= 0, out, mx.nd.ones_like(out) * -1)


class SSDMultiBoxLoss(HybridBlock):
    """Softmax cross-entropy over matched and mined anchors + smooth L1 over matched ones.

    ``MultiBoxTarget`` matches every ground truth to its best anchor, then every anchor with
    IoU > ``overlap_threshold``; it keeps ``negative_ratio`` negatives per positive, the ones
    the network finds hardest (lowest background probability) among anchors with IoU <
    ``negative_thresh``. Everything else is ignored.

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
        self._box_weight = box_weight

    @property
    def target_options(self) -> dict:
        """The ``MultiBoxTarget`` options of this loss (matching, mining, variances)."""
        return dict(self._target)

    def hybrid_forward(self, F, cls_preds, box_preds, anchors, labels):  # pylint: disable=arguments-differ
        """``labels``: ``(B, M, 5)`` ``[cls, x1, y1, x2, y2]`` normalized, padding -1 at the end."""
        loc_target, loc_mask, cls_target = F.contrib.MultiBoxTarget(
            anchors, labels, cls_preds.transpose((0, 2, 1)), **self._target)
        loc_target, loc_mask, cls_target = [F.stop_gradient(t) for t in
                                            (loc_target, loc_mask, cls_target)]
        log_probs = F.log_softmax(cls_preds, axis=-1)
        picked = F.pick(log_probs, F.relu(cls_target), axis=-1)  # ignored rows pick class 0
        cls_loss = F.sum(-picked * (cls_target >= 0), axis=1)
        diff = (box_preds.reshape((0, -1)) - loc_target) * loc_mask
        box_loss = F.sum(F.smooth_l1(diff, scalar=1.0), axis=1) * self._box_weight
        num_pos = F.sum(cls_target > 0, axis=1)
        return cls_loss, box_loss, num_pos
