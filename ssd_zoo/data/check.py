"""What a dataset really holds, before any training: ``ssd-zoo check-data``.

Every annotation is read (malformed files collected, not fatal), every image decoded in
parallel (unreadable and truncated files named, duplicates found by content), and - with a
model - the anchor coverage measured: the share of ground-truth boxes whose best anchor has
IoU >= 0.5, the threshold at which ``MultiBoxTarget`` makes an anchor a positive. A box whose
best anchor is below it is still matched to that anchor (bipartite matching), but the
regression has to make up the gap: poorly covered sizes or shapes learn slowly or not at all
(mmdetection#902, caffe#297).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..boxes import pairwise_iou
from ..defaults import MATCH_IOU
from .base import decode_image

__all__ = ['ImageCheck', 'check_image', 'decode_all', 'Coverage', 'anchor_coverage',
           'suggest_scale', 'box_statistics', 'SIZE_BUCKETS']

#: box sides (sqrt of the area, pixels of the network input) of COCO's small/medium/large
SIZE_BUCKETS = ((0, 32, 'small (<32 px)'), (32, 96, 'medium (32-96 px)'),
                (96, float('inf'), 'large (>96 px)'))


@dataclass
class ImageCheck:
    """One image file: readable or not (and why), its size and content digest."""

    path: str
    error: str = ''
    width: int = 0
    height: int = 0
    digest: str = ''


def check_image(path: str) -> ImageCheck:
    """Decode one file as the loaders do; a JPEG without its end marker is truncated even if
    OpenCV returns a (partly grey) image."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        return ImageCheck(path, 'cannot open: %s' % err.strerror)
    digest = hashlib.sha1(data).hexdigest()
    image = decode_image(data)
    if image is None:
        return ImageCheck(path, 'not a decodable image', digest=digest)
    if path.lower().endswith(('.jpg', '.jpeg')) and not data.rstrip(b'\0').endswith(b'\xff\xd9'):
        return ImageCheck(path, 'truncated JPEG (no end-of-image marker)', image.shape[1],
                          image.shape[0], digest)
    return ImageCheck(path, '', image.shape[1], image.shape[0], digest)


def decode_all(paths: Sequence[str], workers: int = 1, progress=None) -> List[ImageCheck]:
    """:func:`check_image` of every path, in ``workers`` processes, in order."""
    unique = list(dict.fromkeys(paths))
    if workers > 1:
        import multiprocessing
        with multiprocessing.get_context('fork').Pool(workers) as pool:
            results = pool.imap(check_image, unique, chunksize=16)
            results = list(progress(results, total=len(unique)) if progress else results)
    else:
        results = [check_image(p) for p in (progress(unique) if progress else unique)]
    found = dict(zip(unique, results))
    return [found[p] for p in paths]


def box_statistics(labels: Sequence[np.ndarray], sizes: Sequence[Tuple[int, int]],
                   side: int) -> Dict[str, np.ndarray]:
    """Box sides (sqrt of the area, at the network's ``side x side`` input) and aspect ratios
    (width / height, at that input) of every box."""
    boxes, _, _ = _normalized_boxes(labels, sizes, [''] * len(labels))
    wh = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None)
    return {'side': _sides(boxes, side), 'aspect': wh[:, 0] / np.maximum(wh[:, 1], 1e-9)}


@dataclass
class Coverage:
    """Best-anchor IoU of every ground-truth box, and the shares at or above the threshold."""

    best_iou: np.ndarray
    classes: np.ndarray
    sides: np.ndarray
    where: List[str] = field(default_factory=list)
    threshold: float = MATCH_IOU

    @property
    def overall(self) -> float:
        return float(np.mean(self.best_iou >= self.threshold)) if len(self.best_iou) else 1.0

    def by_class(self, names: Sequence[str]) -> Dict[str, Tuple[float, int]]:
        out = {}
        for k, name in enumerate(names):
            mask = self.classes == k
            if mask.any():
                out[name] = (float(np.mean(self.best_iou[mask] >= self.threshold)),
                             int(mask.sum()))
        return out

    def by_size(self) -> Dict[str, Tuple[float, int]]:
        out = {}
        for low, high, name in SIZE_BUCKETS:
            mask = (self.sides >= low) & (self.sides < high)
            if mask.any():
                out[name] = (float(np.mean(self.best_iou[mask] >= self.threshold)),
                             int(mask.sum()))
        return out

    def worst(self, count: int = 10) -> List[Tuple[float, str]]:
        order = np.argsort(self.best_iou)[:count]
        return [(float(self.best_iou[i]), self.where[i]) for i in order]


def _normalized_boxes(labels, sizes, paths):
    boxes, classes, where = [], [], []
    for label, (width, height), path in zip(labels, sizes, paths):
        if not width:
            continue
        for row in label:
            boxes.append(np.asarray(row[:4]) / [width, height, width, height])
            classes.append(int(row[4]))
            where.append('%s box %s' % (os.path.basename(path),
                                        [int(round(v)) for v in row[:4]]))
    return (np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(classes, int), where)


def _sides(boxes: np.ndarray, side: int) -> np.ndarray:
    """Sqrt of the area of normalized boxes, in pixels of a ``side x side`` input."""
    return np.sqrt(np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)) * side


def _best_iou(boxes: np.ndarray, anchors: np.ndarray, chunk: int = 512) -> np.ndarray:
    best = np.zeros(len(boxes))
    for start in range(0, len(boxes), chunk):
        best[start:start + chunk] = pairwise_iou(boxes[start:start + chunk], anchors).max(1)
    return best


def anchor_coverage(anchors: np.ndarray, labels, sizes, paths, side: int) -> Coverage:
    """Coverage of the boxes by ``anchors (N, 4)`` (normalized corners, as the model's)."""
    boxes, classes, where = _normalized_boxes(labels, sizes, paths)
    return Coverage(_best_iou(boxes, anchors), classes, _sides(boxes, side), where)


def scaled_anchors(anchors: np.ndarray, scale: float) -> np.ndarray:
    """Every anchor's width and height times ``scale``, around its centre."""
    centre = (anchors[:, :2] + anchors[:, 2:]) / 2
    half = (anchors[:, 2:] - anchors[:, :2]) / 2 * scale
    return np.concatenate([centre - half, centre + half], axis=1)


def suggest_scale(anchors: np.ndarray, labels, sizes, paths, side: int,
                  scales: Sequence[float] = tuple(np.round(np.arange(0.5, 2.01, 0.1), 2))):
    """``(best scale, coverage at each scale)``: the one factor on every anchor size that
    covers the most boxes (a grid search; the ratios and centres stay)."""
    boxes, _, _ = _normalized_boxes(labels, sizes, paths)
    results = {float(s): float(np.mean(_best_iou(boxes, scaled_anchors(anchors, s))
                                       >= MATCH_IOU)) if len(boxes) else 1.0 for s in scales}
    best = max(results, key=lambda s: (results[s], -abs(s - 1)))
    return best, results


def class_counts(labels, names: Sequence[str]) -> Dict[str, int]:
    counts = Counter(int(c) for label in labels for c in label[:, 4])
    return {name: counts.get(k, 0) for k, name in enumerate(names)}


def duplicates(checks: Sequence[ImageCheck]) -> List[List[str]]:
    """Groups of files with the same content."""
    groups = defaultdict(list)
    for check in checks:
        if check.digest:
            groups[check.digest].append(check.path)
    return [sorted(set(paths)) for paths in groups.values() if len(set(paths)) > 1]


def percentiles(values: np.ndarray, points=(0, 5, 25, 50, 75, 95, 100)) -> Optional[str]:
    if not len(values):
        return None
    return ', '.join('p%d %.3g' % (p, v) for p, v in zip(points, np.percentile(values, points)))
