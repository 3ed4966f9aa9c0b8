"""Detection metrics (VOC07 11-point, VOC area, COCO AP) and running a network over a loader."""
from __future__ import annotations

import logging
import time
from typing import Dict, List, Optional, Sequence

import mxnet as mx
import numpy as np

from .compat import voc_recall_precision
from .data.classes import ClassMap
from .data.preprocess import normalize_batch
from .deploy.loading import as_numpy
from .model.spec import input_normalization

__all__ = ['make_metric', 'predict_loader', 'evaluate', 'METRICS', 'CocoAP', 'per_class_table',
           'precision_recall']

log = logging.getLogger(__name__)

METRICS = ('voc07', 'voc', 'coco')


class CocoAP:
    """COCO AP@[.5:.95] (pycocotools) over detections and ground truth given as arrays."""

    def __init__(self, class_names: Sequence[str]):
        self.class_names = list(class_names)
        self.reset()

    def reset(self):
        self._dets, self._gts, self._images = [], [], 0

    def update(self, pred_bboxes, pred_labels, pred_scores, gt_bboxes, gt_labels,
               gt_difficults=None):
        for k in range(len(pred_bboxes)):
            image_id = self._images
            self._images += 1
            boxes, ids, scores = (np.asarray(a)[k] for a in (pred_bboxes, pred_labels,
                                                            pred_scores))
            for box, cls, score in zip(boxes, ids.ravel(), scores.ravel()):
                if cls >= 0:
                    self._dets.append((image_id, int(cls), float(score), box))
            gboxes, glabels = np.asarray(gt_bboxes)[k], np.asarray(gt_labels)[k].ravel()
            crowd = np.zeros(len(glabels)) if gt_difficults is None else \
                np.asarray(gt_difficults)[k].ravel()
            for box, cls, flag in zip(gboxes, glabels, crowd):
                if cls >= 0:
                    self._gts.append((image_id, int(cls), box, int(flag > 0)))

    def get(self):
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        def xywh(b):
            return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
        gt = COCO()
        gt.dataset = {
            'images': [{'id': i} for i in range(self._images)],
            'categories': [{'id': i, 'name': n} for i, n in enumerate(self.class_names)],
            'annotations': [{'id': j + 1, 'image_id': i, 'category_id': c, 'bbox': xywh(b),
                             'area': float((b[2] - b[0]) * (b[3] - b[1])), 'iscrowd': crowd}
                            for j, (i, c, b, crowd) in enumerate(self._gts)]}
        gt.createIndex()
        if not self._dets:
            return ['mAP'], [0.0]
        dt = gt.loadRes([{'image_id': i, 'category_id': c, 'score': s, 'bbox': xywh(b)}
                         for i, c, s, b in self._dets])
        ev = COCOeval(gt, dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        precision = ev.eval['precision']  # [iou, recall, class, area, maxdets]
        names, values = [], []
        for c, name in enumerate(self.class_names):
            p = precision[:, :, c, 0, -1]
            names.append(name)
            values.append(float(np.mean(p[p > -1])) if (p > -1).any() else float('nan'))
        ev.summarize()
        return names + ['mAP'], values + [float(ev.stats[0])]


def make_metric(name: str, class_names: Sequence[str]):
    """``'voc07'`` (11-point), ``'voc'`` (area under PR) or ``'coco'`` (AP@[.5:.95])."""
    if name == 'voc07':
        from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
        return VOC07MApMetric(iou_thresh=0.5, class_names=list(class_names))
    if name == 'voc':
        from gluoncv.utils.metrics.voc_detection import VOCMApMetric
        return VOCMApMetric(iou_thresh=0.5, class_names=list(class_names))
    if name == 'coco':
        return CocoAP(class_names)
    raise ValueError('metric must be one of %s, got %r' % (METRICS, name))


def predict_loader(net, loader, ctx=None, progress=None):
    """Yield ``(ids, scores, boxes, labels)`` NumPy batches of a network over a loader.

    ``net`` is a :class:`ssd_zoo.deploy.Detector` (which knows the input its graph takes), or
    any callable taking normalized ``(B, 3, H, W)`` images and returning ``ids, scores,
    boxes`` as NDArrays or NumPy arrays (an ONNX Runtime session wrapper, say).
    """
    ctx = ctx or mx.cpu()
    predict = getattr(net, 'predict', None)
    normalization = input_normalization(net)
    for batch in (progress(loader) if progress else loader):
        images, labels = batch
        if predict is not None:
            ids, scores, boxes = predict(images, ctx)
        else:
            ids, scores, boxes = (as_numpy(o) for o in net(normalize_batch(images, ctx=ctx,
                                                                  **normalization)))
        replaced = getattr(batch, 'replaced', ())
        if replaced:  # an unreadable image: scored without it (its stand-in is left out)
            log.warning('evaluation: %s could not be read and is left out',
                        ', '.join(batch.skipped))
            keep = np.setdiff1d(np.arange(len(ids)), replaced)
            ids, scores, boxes, labels = ids[keep], scores[keep], boxes[keep], labels[keep]
            if not len(keep):
                continue
        yield ids, scores, boxes, labels


def evaluate(net, loader, class_names: Sequence[str], metrics: Sequence[str] = ('voc07',),
             ctx=None, progress=None, class_map: Optional[ClassMap] = None
             ) -> Dict[str, object]:
    """Run ``net`` over ``loader`` and score it.

    ``class_names`` are the dataset's classes (the labels' ids index them). ``class_map``
    (:func:`ssd_zoo.data.match_classes`) turns the model's class ids into the dataset's when
    the two lists differ; without it the model's ids are taken as the dataset's.

    Returns
    -------
    dict
        ``{metric: {'mAP': float, 'per_class': {name: AP}}, 'images': n, 'img_per_s': ...,
        'detections': [(ids, scores, boxes, labels), ...]}``.
    """
    scorers = {m: make_metric(m, class_names) for m in metrics}
    batches: List[tuple] = []
    start = time.perf_counter()
    count = 0
    for ids, scores, boxes, labels in predict_loader(net, loader, ctx, progress):
        if class_map is not None:
            ids = class_map.dataset_ids(ids)
        count += len(ids)
        batches.append((ids, scores, boxes, labels))
    elapsed = time.perf_counter() - start
    result = {'images': count, 'img_per_s': count / max(elapsed, 1e-9), 'detections': batches}
    for name, scorer in scorers.items():
        for ids, scores, boxes, labels in batches:
            scorer.update(boxes, ids, scores, labels[:, :, :4], labels[:, :, 4:5],
                          labels[:, :, 5:6])
        names, values = scorer.get()
        result[name] = {'mAP': float(values[-1]),
                        'per_class': dict(zip(names[:-1], map(float, values[:-1])))}
    return result


def per_class_table(result: dict, metrics: Sequence[str]) -> str:
    """A text table: one row per class, one AP column per metric, mAP last."""
    names = list(result[metrics[0]]['per_class'])
    width = max(len('mAP'), *(len(n) for n in names))
    lines = ['%-*s  %s' % (width, 'class', '  '.join('%7s' % m for m in metrics))]
    for name in names + ['mAP']:
        values = [result[m]['mAP'] if name == 'mAP' else result[m]['per_class'].get(name)
                  for m in metrics]
        lines.append('%-*s  %s' % (width, name, '  '.join(
            '%7.4f' % v if v is not None else '%7s' % '-' for v in values)))
    return '\n'.join(lines)


def precision_recall(detections, num_classes: int, iou_thresh: float = 0.5):
    """Per-class (recall, precision) arrays of VOC matching, for PR curves."""
    from gluoncv.utils.metrics.voc_detection import VOCMApMetric
    metric = VOCMApMetric(iou_thresh=iou_thresh, class_names=[str(i) for i in
                                                               range(num_classes)])
    for ids, scores, boxes, labels in detections:
        metric.update(boxes, ids, scores, labels[:, :, :4], labels[:, :, 4:5],
                      labels[:, :, 5:6])
    return voc_recall_precision(metric)
