"""SSD training targets equal to MXNet's ``MultiBoxTarget``: matching on the host, mining on
the device.

``MultiBoxTarget``'s CPU kernel fills an 11 x batch x anchors x labels scratch tensor and
then matches and mines one image after another, on one thread, while the engine waits (its
cost per step: benchmarks/README.md). The matching needs only the labels and the anchors,
which the host has before the network has run, so :func:`match_anchors` does it in NumPy
while the engine computes the forward pass; only the hard-negative mining needs the
predictions, and :func:`mine_negatives` does it on the device with a handful of operators.
Together (:func:`multibox_target`) they follow the kernel step for step, so that the outputs
are equal, not merely close (``tests/test_targets.py`` compares them with the operator):

1. IoU of every anchor with every ground truth of the image, ``inter / union`` in float32 in
   the kernel's order of operations (0 where the union is 0); a label row of class -1 and
   every row after it are padding.
2. Bipartite matching: repeatedly the (anchor, ground truth) pair of highest IoU among the
   unmatched ones is matched, while that IoU exceeds 1e-6; ties go to the lowest anchor, then
   the lowest ground-truth index (the kernel's scan order).
3. Every other anchor is a positive of its best ground truth (lowest index on ties) if their
   IoU exceeds ``overlap_threshold``.
4. Hard negatives: ``floor(positives * negative_mining_ratio)`` (at most the non-positives)
   of the anchors whose best IoU is below ``negative_mining_thresh``, those of lowest
   background probability (softmax of the class predictions), lowest anchor index on ties
   (the kernel's stable sort). A ratio <= 0 makes every non-positive a negative.
5. Positives get class ``cls + 1`` and the encoded box of their ground truth, negatives class
   0, everything else ``ignore_label``; an image without ground truths is ignored whole.

Where the kernel aborts (fewer mining candidates than negatives wanted) this takes them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import mxnet as mx
import numpy as np

from ..defaults import IGNORE_LABEL, MATCH_IOU, NEGATIVE_IOU, NEGATIVE_RATIO, VARIANCES
from ..model.coder import BoxCoder
from .transfer import to_device

__all__ = ['Matches', 'match_anchors', 'mine_negatives', 'box_mask', 'device_targets',
           'multibox_target']

#: the kernel's bipartite matching only takes pairs whose IoU exceeds this
_MIN_MATCH_IOU = np.float32(1e-6)
#: mining key of anchors that are not candidates: above every probability
_NOT_A_CANDIDATE = 2.0


@dataclass
class Matches:
    """What the matching of one batch decides before hard-negative mining (NumPy arrays).

    Attributes
    ----------
    loc_target : np.ndarray
        ``(B, A * 4)`` as ``MultiBoxTarget``'s output of this name.
    cls_target : np.ndarray
        ``(B, A)`` ``cls + 1`` for positives, 0 for the anchors negatives may be mined from,
        ``ignore_label`` for the others.
    wanted : np.ndarray
        ``(B,)`` how many negatives to mine per image; -1 when every candidate is one.
    """

    loc_target: np.ndarray
    cls_target: np.ndarray
    wanted: np.ndarray


def _iou(anchors: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """IoU ``(N, A)`` of ``gt_boxes (N, 4)`` with ``anchors (A, 4)``, float32, in the
    kernel's order of operations (so equal to its values). Not :func:`ssd_zoo.boxes.iou`,
    which computes in float64 and counts inverted boxes as empty: matching decisions hinge on
    exact IoU ties and thresholds, so these must be the kernel's numbers. In place where it
    can be: each ``(N, A)`` temporary costs as much as an operation."""
    al, at, ar, ab = anchors.T
    gl, gt, gr, gb = (gt_boxes[:, i, None] for i in range(4))
    zero = np.float32(0)
    inter = np.minimum(ar, gr)
    inter -= np.maximum(al, gl)
    np.maximum(zero, inter, out=inter)
    height = np.minimum(ab, gb)
    height -= np.maximum(at, gt)
    np.maximum(zero, height, out=height)
    inter *= height
    union = np.add((ar - al) * (ab - at), (gr - gl) * (gb - gt), out=height)
    union -= inter
    empty = union == 0
    np.divide(inter, union, out=inter, where=~empty)
    inter[empty] = zero
    return inter


def _bipartite(iou: np.ndarray):
    """Greedy bipartite matching of ``iou (B, M, A)`` (padding rows -1): ``(matched (B, A)
    bool, ground-truth index (B, A))``. Each round takes, per image, the highest-IoU pair of
    an unmatched anchor and an unmatched ground truth; of equal pairs the lowest anchor, then
    the lowest ground truth (the kernel's scan order)."""
    batch, num_gt, num_anchors = iou.shape
    scores = iou.copy()
    matched = np.zeros((batch, num_anchors), bool)
    match = np.zeros((batch, num_anchors), np.int64)
    images = np.arange(batch)
    for _ in range(num_gt):  # each round matches at most one ground truth per image
        first_anchor = scores.argmax(axis=2)                                   # (B, M)
        gt_best = np.take_along_axis(scores, first_anchor[:, :, None], axis=2)[:, :, 0]
        value = gt_best.max(axis=1)
        found = value > _MIN_MATCH_IOU
        if not found.any():
            break
        tied_anchor = np.where(gt_best == value[:, None], first_anchor, num_anchors)
        gt = tied_anchor.argmin(axis=1)
        anchor = tied_anchor[images, gt]
        b, gt, anchor = images[found], gt[found], anchor[found]
        matched[b, anchor] = True
        match[b, anchor] = gt
        scores[b, :, anchor] = -1   # the anchor is taken
        scores[b, gt, :] = -1       # and so is the ground truth
    return matched, match


def match_anchors(anchors: np.ndarray, labels: np.ndarray,
                  overlap_threshold: float = MATCH_IOU, ignore_label: float = IGNORE_LABEL,
                  negative_mining_ratio: float = NEGATIVE_RATIO,
                  negative_mining_thresh: float = NEGATIVE_IOU,
                  variances: Sequence[float] = VARIANCES) -> Matches:
    """Match ``anchors (A, 4)`` (or ``(1, A, 4)``) to ``labels (B, M, >=5)`` as
    ``MultiBoxTarget`` does before it mines hard negatives (steps 1-3 and 5 of the module's
    description). ``labels`` rows are ``[cls, x1, y1, x2, y2, ...]``, normalized; a row of
    class -1 ends an image's ground truths."""
    if ignore_label > 0:
        raise ValueError('ignore_label must be <= 0 (class targets 1.. are the positives), '
                         'got %s' % ignore_label)
    anchors = np.ascontiguousarray(np.asarray(anchors, np.float32).reshape(-1, 4))
    labels = np.asarray(labels, np.float32)
    batch, num_gt = labels.shape[:2]
    num_anchors = anchors.shape[0]
    valid = np.cumsum(labels[:, :, 0] == -1, axis=1) == 0   # rows before the first padding
    has_gt = valid.any(axis=1)[:, None]

    # only the images' own ground truths, not the padding rows (half of them on shapes)
    iou = np.full((batch, num_gt, num_anchors), -1, np.float32)
    iou[valid] = _iou(anchors, labels[valid][:, 1:5])
    positive, match = _bipartite(iou)
    best_iou = iou.max(axis=1) if num_gt else np.full((batch, num_anchors), -1, np.float32)
    if overlap_threshold > 0 and num_gt:
        images, anchor = np.nonzero(~positive & (best_iou > np.float32(overlap_threshold)))
        match[images, anchor] = iou[images, :, anchor].argmax(axis=1)  # lowest gt on ties
        positive[images, anchor] = True

    others = ~positive & has_gt
    mining = negative_mining_ratio > 0
    candidates = others & (best_iou < np.float32(negative_mining_thresh)) if mining else others
    cls_target = np.where(candidates, np.float32(0), np.float32(ignore_label))
    loc_target = np.zeros((batch, num_anchors, 4), np.float32)
    images, anchor = np.nonzero(positive)
    rows = labels[images, match[images, anchor]]
    cls_target[images, anchor] = rows[:, 0] + 1
    loc_target[images, anchor] = BoxCoder(variances).encode(anchors[anchor], rows[:, 1:5])

    num_positive = positive.sum(axis=1).astype(np.float32)
    wanted = np.full(batch, -1, np.int64)
    if mining:
        wanted = np.minimum(np.floor(num_positive * np.float32(negative_mining_ratio)),
                            num_anchors - num_positive).astype(np.int64)
    return Matches(loc_target.reshape(batch, -1), cls_target, wanted)


def mine_negatives(cls_preds, cls_target, wanted: np.ndarray,
                   ignore_label: float = IGNORE_LABEL):
    """The final class target ``(B, A)`` NDArray (step 4): of the candidates (class target 0
    of :func:`match_anchors`), the ``wanted`` ones of lowest background probability under
    ``cls_preds (B, A, C)`` stay negatives, the others become ``ignore_label``."""
    nd = mx.nd
    if (wanted < 0).all():   # no mining: every candidate is a negative
        return cls_target
    wanted_host = np.maximum(wanted, 0)
    wanted_nd = to_device(wanted_host, cls_target.context, 'float32').reshape((-1, 1))
    candidates = cls_target == 0
    probability = nd.softmax(cls_preds, axis=-1).slice_axis(axis=-1, begin=0, end=1)
    key = nd.where(candidates, probability.reshape((0, -1)),
                   nd.ones_like(cls_target) * _NOT_A_CANDIDATE)
    depth = int(max(1, wanted_host.max()))
    lowest = nd.topk(key, axis=1, k=depth, ret_typ='value', is_ascend=True)
    cutoff = nd.pick(lowest, nd.clip(wanted_nd - 1, 0, depth - 1), axis=1, keepdims=True)
    below = nd.broadcast_lesser(key, cutoff)
    at_cutoff = candidates * nd.broadcast_equal(key, cutoff)
    room = wanted_nd - nd.sum(candidates * below, axis=1, keepdims=True)
    # of equal probabilities at the cutoff, the lowest anchors (the kernel's stable sort)
    tie_taken = at_cutoff * nd.broadcast_lesser_equal(nd.cumsum(at_cutoff, axis=1), room)
    negative = nd.broadcast_mul(candidates * below + tie_taken, wanted_nd > 0)
    dropped = candidates - negative
    return nd.where(dropped, nd.ones_like(cls_target) * ignore_label, cls_target)


def box_mask(cls_target):
    """``MultiBoxTarget``'s ``loc_mask`` ``(B, A * 4)``: 1 for the positives' offsets."""
    positive = (cls_target > 0).expand_dims(2)
    return mx.nd.repeat(positive, repeats=4, axis=2).reshape((0, -1))


def device_targets(cls_preds, matches: Matches, ignore_label: float = IGNORE_LABEL):
    """``MultiBoxTarget``'s ``(loc_target, loc_mask, cls_target)`` on ``cls_preds``'s device
    from the host's :class:`Matches`, the negatives mined under ``cls_preds (B, A, C)``."""
    ctx = cls_preds.context
    cls_target = mine_negatives(cls_preds, to_device(matches.cls_target, ctx), matches.wanted,
                                ignore_label)
    return to_device(matches.loc_target, ctx), box_mask(cls_target), cls_target


def multibox_target(anchors, labels, cls_preds, overlap_threshold: float = MATCH_IOU,
                    ignore_label: float = IGNORE_LABEL,
                    negative_mining_ratio: float = NEGATIVE_RATIO,
                    negative_mining_thresh: float = NEGATIVE_IOU,
                    variances: Sequence[float] = VARIANCES):
    """``mx.nd.contrib.MultiBoxTarget(anchors, labels, cls_preds, ...)``'s three outputs.

    Parameters
    ----------
    anchors : NDArray
        ``(1, A, 4)`` corner anchors, normalized.
    labels : NDArray
        ``(B, M, >=5)`` rows ``[cls, x1, y1, x2, y2, ...]`` normalized; a row of class -1
        ends an image's ground truths.
    cls_preds : NDArray
        ``(B, C, A)`` class logits, background first (the operator's layout).
    overlap_threshold, ignore_label, negative_mining_ratio, negative_mining_thresh, variances
        As ``MultiBoxTarget``'s parameters of these names.

    Returns
    -------
    (loc_target (B, A*4), loc_mask (B, A*4), cls_target (B, A)) NDArrays on ``cls_preds``'s
    context.
    """
    matches = match_anchors(anchors.asnumpy(), labels.asnumpy(), overlap_threshold,
                            ignore_label, negative_mining_ratio, negative_mining_thresh,
                            variances)
    return device_targets(cls_preds.transpose((0, 2, 1)), matches, ignore_label)

