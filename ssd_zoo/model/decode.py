"""Turning SSD head outputs into detections: MultiBoxDetection, or GluonCV's per-class NMS.

Both modes take ``cls_preds (B, N, C+1)`` logits, ``box_preds (B, N, 4)`` offsets,
``anchors (1, N, 4)`` normalized corners and the input image (for its size), and return
``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` in input pixels, best first,
invalid rows ``-1``.
"""
from __future__ import annotations

from mxnet.gluon import HybridBlock

from ..defaults import NMS_THRESH, NMS_TOPK, POST_NMS, SCORE_THRESH, VARIANCES
from .anchors import image_wh
from .coder import BoxCoder

__all__ = ['Decoder', 'MODES']

MODES = ('multibox', 'per_class')


class Decoder(HybridBlock):
    """Detections from SSD predictions.

    Parameters
    ----------
    num_classes : int
        Foreground classes.
    mode : str
        ``'multibox'``: MXNet's ``MultiBoxDetection``, one detection per anchor (its best
        foreground class), boxes clipped to the image. ``'per_class'``: GluonCV's decoding,
        every class above the threshold is a candidate and NMS runs within classes; the
        arithmetic is GluonCV's (centre-size decoding in pixels, ``box_nms`` with
        ``valid_thresh=0.01``, no clipping), so the same weights give the same detections.
    nms_thresh, nms_topk, post_nms
        See :meth:`ssd_zoo.SSD.set_nms`.
    score_thresh : float
        Candidates of lower class probability are dropped before NMS.
    variances : sequence of 4 floats
        The box coder's (:class:`~ssd_zoo.model.coder.BoxCoder`).
    """

    def __init__(self, num_classes, mode='multibox', nms_thresh=NMS_THRESH, nms_topk=NMS_TOPK,
                 post_nms=POST_NMS, score_thresh=SCORE_THRESH, variances=VARIANCES, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError('NMS mode must be one of %s, got %r' % (MODES, mode))
        self.mode = mode
        self._num_classes = num_classes
        self._nms_thresh = nms_thresh
        self._nms_topk = nms_topk
        self._post_nms = post_nms
        self._score_thresh = score_thresh
        self.coder = BoxCoder(variances)

    def hybrid_forward(self, F, cls_preds, box_preds, anchors, image):  # pylint: disable=arguments-differ
        if self.mode == 'multibox':
            dets = self._multibox(F, cls_preds, box_preds, anchors, image)
        else:
            dets = self._per_class(F, cls_preds, box_preds, anchors, image)
        return (dets.slice_axis(axis=2, begin=0, end=1), dets.slice_axis(axis=2, begin=1, end=2),
                dets.slice_axis(axis=2, begin=2, end=6))

    def _multibox(self, F, cls_preds, box_preds, anchors, image):
        probs = F.softmax(cls_preds, axis=-1).transpose((0, 2, 1))
        dets = F.contrib.MultiBoxDetection(
            probs, box_preds.reshape((0, -1)), anchors, clip=True, threshold=self._score_thresh,
            nms_threshold=self._nms_thresh, nms_topk=self._nms_topk, force_suppress=False,
            variances=self.coder.variances)
        # MultiBoxDetection sorts by score but leaves suppressed rows in place (id -1): move the
        # valid rows first so that the post_nms cut keeps the best valid detections.
        dets = _valid_rows_first(F, dets, self._post_nms)
        ids = dets.slice_axis(axis=2, begin=0, end=1)
        boxes = F.broadcast_mul(dets.slice_axis(axis=2, begin=2, end=6), image_wh(F, image))
        boxes = F.where(F.broadcast_like(ids, boxes) >= 0, boxes, F.ones_like(boxes) * -1)
        return F.concat(dets.slice_axis(axis=2, begin=0, end=2), boxes, dim=-1)

    def _per_class(self, F, cls_preds, box_preds, anchors, image):
        boxes = self.coder.decode(F, box_preds, F.broadcast_mul(anchors, image_wh(F, image)))
        scores = F.softmax(cls_preds, axis=-1).slice_axis(axis=-1, begin=1, end=None)
        keep = scores > self._score_thresh
        per_class = []
        for c in range(self._num_classes):
            score = scores.slice_axis(axis=-1, begin=c, end=c + 1)
            kept = keep.slice_axis(axis=-1, begin=c, end=c + 1)
            cls_id = F.where(kept, F.ones_like(score) * c, F.ones_like(score) * -1)
            per_class.append(F.concat(cls_id, F.where(kept, score, F.zeros_like(score)), boxes,
                                      dim=-1))
        dets = F.concat(*per_class, dim=1)
        if 0 < self._nms_thresh < 1:
            dets = F.contrib.box_nms(dets, overlap_thresh=self._nms_thresh, topk=self._nms_topk,
                                     valid_thresh=self._score_thresh, id_index=0, score_index=1,
                                     coord_start=2, force_suppress=False)
        if self._post_nms > 0:
            # pad so that networks with fewer candidates than post_nms still return K rows
            dets = _pad_rows(F, dets, self._post_nms).slice_axis(axis=1, begin=0,
                                                                 end=self._post_nms)
        return dets


def _pad_rows(F, dets, count):
    """Append ``count`` invalid rows (all -1) to ``dets (B, N, 6)``."""
    invalid = F.ones_like(dets.slice_axis(axis=1, begin=0, end=1)) * -1
    return F.concat(dets, F.tile(invalid, reps=(1, count, 1)), dim=1)


def _valid_rows_first(F, dets, keep):
    """The best ``keep`` rows with id >= 0 first, by score, padded with all -1 rows to exactly
    ``keep`` rows (``keep <= 0``: every row, sorted).

    A top-k on the masked score and a gather: far cheaper than a ``box_nms`` pass (which is
    quadratic in the number of rows even when it suppresses nothing).
    """
    if keep > 0:
        dets = _pad_rows(F, dets, keep)
    ids = dets.slice_axis(axis=2, begin=0, end=1)
    valid = ids >= 0
    score = F.where(valid, dets.slice_axis(axis=2, begin=1, end=2), F.ones_like(ids) * -2)
    order = F.topk(score.reshape((0, -1)), axis=1, k=max(keep, 0), ret_typ='indices')
    batch = F.broadcast_like(F.contrib.arange_like(order, axis=0).reshape((-1, 1)), order)
    index = F.stack(batch, order).astype('int32')
    dets, valid = F.gather_nd(dets, index), F.gather_nd(valid, index)
    return F.where(F.broadcast_like(valid, dets), dets, F.ones_like(dets) * -1)
