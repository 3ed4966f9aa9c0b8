"""Comparing two detectors' outputs with ties handled explicitly."""
import numpy as np


def box_iou(a, b):
    """IoU of matching rows of two (K, 4) corner arrays (0 where both are empty)."""
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, 2:], b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda r: np.prod(np.clip(r[:, 2:] - r[:, :2], 0, None), axis=1)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(union), where=union > 0)


def same_box(a, b, min_iou, tol=0.01):
    """IoU above ``min_iou``, or equal corners within ``tol`` pixels (boxes clipped to zero
    width or height have no IoU)."""
    return box_iou(a[None], b[None])[0] > min_iou or np.abs(a - b).max() < tol


def tie_groups(scores, tol):
    """Runs of consecutive (sorted) scores closer than ``tol``: their order is arbitrary."""
    groups, start = [], 0
    for i in range(1, len(scores) + 1):
        if i == len(scores) or scores[i - 1] - scores[i] > tol:
            groups.append(range(start, i))
            start = i
    return groups


def compare_detections(ref, got, top=100, score_tol=1e-4, min_iou=0.99):
    """Problems (a list of strings, empty when they agree) between two outputs of one image.

    ``ref`` / ``got`` are ``(ids (K,1), scores (K,1), boxes (K,4))``, best first. Over the ``top``
    best valid rows: the same number of detections; within each group of scores tied up to
    ``score_tol`` (whose order either side may choose), every reference detection has a partner
    of the same class with IoU > ``min_iou`` and |score difference| < ``score_tol``. A tie group
    cut by the ``top`` limit is compared only on the rows both sides kept.
    """
    def valid(out):
        ids, scores, boxes = (np.asarray(o).reshape(len(o), -1) for o in out)
        keep = ids[:, 0] >= 0
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
            partners = [j for j in unmatched if gid[j] == rid[i]
                        and abs(gsc[j] - rsc[i]) < score_tol
                        and same_box(gbox[j], rbox[i], min_iou)]
            if partners:
                unmatched.discard(partners[0])
            elif not cut:
                problems.append('row %d (class %d, score %.5f, box %s) has no partner'
                                % (i, rid[i], rsc[i], np.round(rbox[i], 2)))
    return problems
