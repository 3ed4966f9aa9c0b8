"""Box arithmetic on corner boxes ``[x1, y1, x2, y2]`` (NumPy): the one IoU of the package
(the training targets keep ``MultiBoxTarget``'s float32 one, :mod:`ssd_zoo.train.targets`,
whose outputs they reproduce bit for bit)."""
from __future__ import annotations

import numpy as np

__all__ = ['iou', 'pairwise_iou', 'area']


def area(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``(..., 4)`` boxes; inverted boxes count as empty."""
    return np.prod(np.clip(boxes[..., 2:] - boxes[..., :2], 0, None), axis=-1)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a (..., 4)`` and ``b (..., 4)``, broadcast against each other.

    Two empty boxes have IoU 0 (not NaN).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    lt = np.maximum(a[..., :2], b[..., :2])
    rb = np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    union = area(a) + area(b) - inter
    return np.divide(inter, union, out=np.zeros(np.shape(union)), where=union > 0)


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every row of ``a (P, 4)`` with every row of ``b (Q, 4)``: ``(P, Q)``."""
    return iou(np.asarray(a)[:, None, :], np.asarray(b)[None, :, :])
