"""Datasets by name, as the scripts' ``--dataset`` / ``--dataset-root`` flags select them."""
from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

from .base import DetectionDataset
from .coco import COCODetection
from .record import LstDetection, RecordDetection
from .shapes import default_shapes_root, generate_shapes
from .voc import VOC_CLASSES, VOCDetection, VOCFolder, read_class_list

__all__ = ['DATASETS', 'build_datasets']

DATASETS = ('shapes', 'voc', 'coco', 'rec', 'custom')


def _classes_for(root: str, classes: Optional[Sequence[str]], what: str):
    if classes:
        return list(classes)
    path = os.path.join(root, 'classes.txt')
    if os.path.isfile(path):
        return list(read_class_list(path))
    raise ValueError('%s needs class names: pass --classes a,b,c or write %s' % (what, path))


def build_datasets(name: str, root: Optional[str] = None,
                   classes: Optional[Sequence[str]] = None, progress=None,
                   strict: bool = False, errors: Optional[list] = None
                   ) -> Tuple[DetectionDataset, DetectionDataset]:
    """``(train, val)`` datasets.

    ``strict`` (``--strict-data``): a box without area or an unreadable image stops with the
    file named, instead of being dropped or skipped and counted (:mod:`ssd_zoo.data.base`).
    ``errors``: a list that collects malformed annotations (their images left out) instead of
    raising at the first (``ssd-zoo check-data``).

    - ``shapes``: generated under ``root`` (default ``data/shapes``) on first use.
    - ``voc``: ``root`` holds ``VOC2007`` and ``VOC2012``; train on 07+12 trainval, validate
      on 07 test.
    - ``coco``: ``root/annotations/instances_{train,val}2017.json`` and
      ``root/{train,val}2017/``.
    - ``rec``: ``root/train.rec`` and ``root/val.rec`` (with ``.idx``), or ``.lst`` files
      with images under ``root``; class names from ``classes`` or ``root/classes.txt``.
    - ``custom``: a VOC-style folder with ``train`` and ``val`` splits.
    """
    if name == 'shapes':
        root = generate_shapes(root or default_shapes_root(), progress=progress)
        return (VOCFolder(root, 'train', strict=strict, errors=errors),
                VOCFolder(root, 'val', strict=strict, errors=errors))
    if root is None:
        raise ValueError('--dataset %s needs --dataset-root' % name)
    if name == 'voc':
        splits = [(2007, 'trainval')] + ([(2012, 'trainval')]
                                         if os.path.isdir(os.path.join(root, 'VOC2012')) else [])
        return (VOCDetection(root, splits, classes or VOC_CLASSES, strict=strict, errors=errors),
                VOCDetection(root, [(2007, 'test')], classes or VOC_CLASSES, strict=strict,
                             errors=errors))
    if name == 'coco':
        def part(split):
            return COCODetection(os.path.join(root, 'annotations', 'instances_%s.json' % split),
                                 os.path.join(root, split), skip_empty=split.startswith('train'),
                                 strict=strict, errors=errors)
        return part('train2017'), part('val2017')
    if name == 'rec':
        names = _classes_for(root, classes, '--dataset rec')
        if os.path.isfile(os.path.join(root, 'train.rec')):
            return tuple(RecordDetection(os.path.join(root, split + '.rec'), names,
                                         strict=strict, errors=errors)
                         for split in ('train', 'val'))
        return tuple(LstDetection(os.path.join(root, split + '.lst'), root, names, strict, errors)
                     for split in ('train', 'val'))
    if name == 'custom':
        return tuple(VOCFolder(root, split, classes, strict=strict, errors=errors)
                     for split in ('train', 'val'))
    raise ValueError('unknown dataset %r; choose one of %s' % (name, ', '.join(DATASETS)))
