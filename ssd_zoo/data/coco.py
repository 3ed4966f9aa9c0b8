"""COCO-format datasets (an instances JSON and an image folder), read with pycocotools.

Crowd boxes are left out (as COCO evaluation ignores them, and as GluonCV trains), their count
logged; images without objects are kept unless ``skip_empty``; boxes are clipped to their
image, or dropped when they have no area (COCO train2017 has zero-height boxes; see
:mod:`ssd_zoo.data.base`); an annotation naming an unknown category raises with the file.
"""
from __future__ import annotations

import os
from typing import Optional

from .base import BadDataError, DetectionDataset
from .classes import fold_name

__all__ = ['COCODetection']


class COCODetection(DetectionDataset):
    """Images and boxes of one COCO annotation file.

    Parameters
    ----------
    annotation_file : str
        ``instances_*.json``.
    image_dir : str
        Folder holding the ``file_name`` of every image.
    skip_empty : bool
        Leave out images without (non-crowd) objects.
    """

    def __init__(self, annotation_file: str, image_dir: str, skip_empty: bool = False,
                 classes: Optional[list] = None, strict: bool = False,
                 errors: Optional[list] = None):
        from pycocotools.coco import COCO
        if not os.path.isfile(annotation_file):
            raise FileNotFoundError('COCO annotation file %s does not exist' % annotation_file)
        try:
            coco = COCO(annotation_file)
        except (ValueError, KeyError) as err:
            raise BadDataError('%s is not a COCO instances file: %s' % (annotation_file, err)) \
                from None
        categories = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c['id'])
        kept = _selected(categories, classes, annotation_file)
        super().__init__([c['name'] for c in kept], strict, errors)
        self.category_ids = [c['id'] for c in kept]
        index = {cid: i for i, cid in enumerate(self.category_ids)}
        known = {c['id'] for c in categories}
        for image_id in sorted(coco.getImgIds()):
            info = coco.loadImgs(image_id)[0]
            width, height = info['width'], info['height']
            rows = []
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
                where = '%s annotation %s (image %s)' % (annotation_file, ann.get('id'),
                                                        info['file_name'])
                if ann.get('iscrowd', 0):
                    self.report['crowd boxes left out'] += 1
                    continue
                if ann['category_id'] not in known:
                    self._malformed(BadDataError('%s: category %s is not in the categories '
                                                 'list' % (where, ann['category_id'])))
                    continue
                if ann['category_id'] not in index:
                    self.report['objects of classes not selected left out'] += 1
                    continue
                x, y, w, h = ann['bbox']
                box = self.check_box([x, y, x + w, y + h], width, height, where)
                if box is not None:
                    rows.append(box + [index[ann['category_id']], 0])
            if not rows and skip_empty:
                self.report['images without objects left out'] += 1
                continue
            self._add(os.path.join(image_dir, info['file_name']), rows)
        self._log_report(annotation_file)


def _selected(categories: list, classes: Optional[list], annotation_file: str) -> list:
    """The categories ``classes`` selects, in its order (every one when it is None)."""
    if classes is None:
        return categories
    by_name = {fold_name(c['name']): c for c in categories}
    unknown = [c for c in classes if fold_name(c) not in by_name]
    if unknown:
        raise ValueError('--classes %s: not categories of %s, which has %s'
                         % (', '.join(unknown), annotation_file,
                            ', '.join(c['name'] for c in categories)))
    return [by_name[fold_name(c)] for c in classes]
