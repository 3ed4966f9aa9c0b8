"""Do two detectors agree? Detections compared row by row, with score ties handled explicitly.

Used to check exports (ONNX, symbol files) against the Gluon model they came from: the order
of detections whose scores tie is arbitrary, so rows are matched within each group of tied
scores rather than by position.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

from ..boxes import iou as box_iou
from ..defaults import SCORE_THRESH

__all__ = ['box_iou', 'same_box', 'tie_groups', 'detection_mismatches']


def same_box(a: np.ndarray, b: np.ndarray, min_iou: float, tol: float = 0.01) -> bool:
    """IoU above ``min_iou``, or equal corners within ``tol`` pixels (a box clipped to zero
    width or height has no IoU)."""
    return bool(box_iou(a[None], b[None])[0] > min_iou or np.abs(a - b).max() < tol)


def tie_groups(scores: Sequence[float], tol: float) -> List[range]:
    """Runs of consecutive (descending) scores closer than ``tol``: their order is arbitrary."""
    groups, start = [], 0
    for i in range(1, len(scores) + 1):
        if i == len(scores) or scores[i - 1] - scores[i] > tol:
            groups.append(range(start, i))
            start = i
    return groups


def detection_mismatches(ref, got, top: int = 100, score_tol: float = 1e-4,
                         min_iou: float = 0.99, score_thresh: float = SCORE_THRESH) -> List[str]:
    """What differs between two detectors' outputs for one image (empty list: they agree).

    ``ref`` / ``got`` are ``(ids (K, 1), scores (K, 1), boxes (K, 4))``, best first, invalid
    rows with id -1. Rows scoring within ``score_tol`` of the detectors' ``score_thresh`` are
    left out: either side may keep or drop them (MXNet keeps a score equal to the threshold,
    ONNX's ``NonMaxSuppression`` drops it, and rounding moves a score across it). Over the
    ``top`` best valid rows: the same number of detections, and
    within each group of scores tied up to ``score_tol`` (whose order either side may choose)
    every reference detection has a partner of the same class, |score difference| <
    ``score_tol`` and IoU > ``min_iou``. A tie group cut by the ``top`` limit is compared only
    on the rows both sides kept.
    """
    def valid(out):
        ids, scores, boxes = (np.asarray(o).reshape(len(o), -1) for o in out)
        keep = (ids[:, 0] >= 0) & (scores[:, 0] >= score_thresh + score_tol)
        return ids[keep, 0][:top], scores[keep, 0][:top], boxes[keep][:top]

    (rid, rsc, rbox), (gid, gsc, gbox) = valid(ref), valid(got)
    if len(rid) != len(gid):
        return ['%d detections vs %d' % (len(rid), len(gid))]
    problems = []
    groups = tie_groups(rsc, score_tol)
    for n, group in enumerate(groups):
        unmatched = set(group)
        cut = n == len(groups) - 1 and len(rid) == top  # the limit may split this group
        for i in group:
            partners = [j for j in sorted(unmatched) if gid[j] == rid[i]
                        and abs(gsc[j] - rsc[i]) < score_tol
                        and same_box(gbox[j], rbox[i], min_iou)]
            if partners:
                unmatched.discard(partners[0])
            elif not cut:
                problems.append('row %d (class %d, score %.5f, box %s) has no partner'
                                % (i, rid[i], rsc[i], np.round(rbox[i], 2)))
    return problems
