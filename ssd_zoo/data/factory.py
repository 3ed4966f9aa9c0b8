"""Datasets by name, as the scripts' ``--dataset`` / ``--dataset-root`` flags select them."""
from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

from .base import DetectionDataset
from .coco import COCODetection
from .record import LstDetection, RecordDetection
from .shapes import default_shapes_root, generate_shapes
from .voc import VOCDetection, VOCFolder, read_class_list

__all__ = ['DATASETS', 'SPLITS', 'build_dataset', 'build_datasets']

DATASETS = ('shapes', 'voc', 'coco', 'rec', 'custom')


def _classes_for(root: str, classes: Optional[Sequence[str]], what: str):
    if classes:
        return list(classes)
    path = os.path.join(root, 'classes.txt')
    if os.path.isfile(path):
        return list(read_class_list(path))
    raise ValueError('%s needs class names: pass --classes a,b,c or write %s' % (what, path))


#: the split names of each dataset, for ``split='train'`` and ``split='val'``
SPLITS = {'voc': {'train': 'trainval', 'val': 'test'},
          'coco': {'train': 'train2017', 'val': 'val2017'}}


def _check_root(name: str, root: Optional[str]) -> str:
    if root is None:
        raise ValueError('--dataset %s needs --dataset-root' % name)
    if not os.path.isdir(root):
        raise FileNotFoundError('--dataset-root %s does not exist (check the path: it is the '
                                'folder that holds the %s dataset)' % (root, name))
    return root


def _shapes_root(root: Optional[str], progress) -> str:
    default = default_shapes_root()
    if root is not None and not os.path.isdir(root) and \
            os.path.abspath(root) != os.path.abspath(default):
        # a misspelled path must not quietly become a new 5,300-image dataset
        raise FileNotFoundError('--dataset-root %s does not exist: shapes is generated on first '
                                'use only in its default folder %s (drop --dataset-root) or in '
                                'a folder that exists (mkdir it first)' % (root, default))
    return generate_shapes(root or default, progress=progress)


def build_dataset(name: str, root: Optional[str] = None,
                  classes: Optional[Sequence[str]] = None, split: str = 'val',
                  progress=None, strict: bool = False, errors: Optional[list] = None
                  ) -> DetectionDataset:
    """One split (``'train'`` or ``'val'``) of a dataset; only that split's files are read,
    so a COCO folder with only ``instances_val2017.json`` or a VOC2007 folder with only
    ``test.txt`` can be evaluated.

    ``strict`` (``--strict-data``): a box without area or an unreadable image stops with the
    file named, instead of being dropped or skipped and counted (:mod:`ssd_zoo.data.base`).
    ``errors``: a list that collects malformed annotations (their images left out) instead of
    raising at the first (``ssd-zoo check-data``).

    - ``shapes``: generated under ``root`` (default ``data/shapes``) on first use.
    - ``voc``: ``root`` holds ``VOC2007`` (and ``VOC2012``); train on 07(+12) trainval,
      validate on 07 test.
    - ``coco``: ``root/annotations/instances_{train,val}2017.json`` and
      ``root/{train,val}2017/``.
    - ``rec``: ``root/{train,val}.rec`` (with ``.idx``), or ``.lst`` files with images under
      ``root``; class names from ``classes`` or ``root/classes.txt``.
    - ``custom``: a VOC-style folder with ``train`` and ``val`` splits.
    """
    if split not in ('train', 'val'):
        raise ValueError("split must be 'train' or 'val', got %r" % split)
    if name not in DATASETS:
        raise ValueError('unknown dataset %r; choose one of %s' % (name, ', '.join(DATASETS)))
    if name == 'shapes':
        return VOCFolder(_shapes_root(root, progress), split, classes, strict=strict,
                         errors=errors)
    root = _check_root(name, root)
    if name == 'voc':
        years = [2007] + ([2012] if split == 'train' and
                          os.path.isdir(os.path.join(root, 'VOC2012')) else [])
        return VOCDetection(root, [(year, SPLITS['voc'][split]) for year in years],
                            classes, strict=strict, errors=errors)
    if name == 'coco':
        part = SPLITS['coco'][split]
        return COCODetection(os.path.join(root, 'annotations', 'instances_%s.json' % part),
                             os.path.join(root, part), skip_empty=split == 'train',
                             classes=classes, strict=strict, errors=errors)
    if name == 'rec':
        names = _classes_for(root, classes, '--dataset rec')
        if os.path.isfile(os.path.join(root, split + '.rec')):
            return RecordDetection(os.path.join(root, split + '.rec'), names, strict=strict,
                                   errors=errors)
        return LstDetection(os.path.join(root, split + '.lst'), root, names, strict, errors)
    return VOCFolder(root, split, classes, strict=strict, errors=errors)


def build_datasets(name: str, root: Optional[str] = None,
                   classes: Optional[Sequence[str]] = None, progress=None,
                   strict: bool = False, errors: Optional[list] = None
                   ) -> Tuple[DetectionDataset, DetectionDataset]:
    """``(train, val)``: :func:`build_dataset` of both splits."""
    return tuple(build_dataset(name, root, classes, split, progress, strict, errors)
                 for split in ('train', 'val'))
