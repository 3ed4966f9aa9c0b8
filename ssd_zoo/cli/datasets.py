"""The dataset flags of the scripts that run a model on a dataset (evaluation, quantization),
and the pairing of the model's classes with the dataset's by name."""
from __future__ import annotations

import argparse
from typing import List, Optional, Tuple

from ..data import DATASETS, ClassMap, DetectionDataset, build_dataset, match_classes
from ..deploy.loading import Detector

__all__ = ['add_dataset_flags', 'class_list', 'model_dataset']


def add_dataset_flags(parser: argparse.ArgumentParser) -> None:
    """``--dataset``, ``--dataset-root``, ``--classes``, ``--strict-data``."""
    parser.add_argument('--dataset', choices=DATASETS, default=None,
                        help='default: the dataset a checkpoint was trained on, else shapes')
    parser.add_argument('--dataset-root', default=None,
                        help='dataset folder (default: the checkpoint\'s; shapes: data/shapes)')
    parser.add_argument('--classes', default=None,
                        help='comma-separated class names of the dataset: rec/custom without a '
                             'classes.txt, or a subset of VOC\'s (other objects are skipped)')
    parser.add_argument('--strict-data', action='store_true',
                        help='stop at a box without area or an unreadable image')


def class_list(text: Optional[str]) -> Optional[List[str]]:
    """``'a, b,c'`` -> ``['a', 'b', 'c']``; None for no ``--classes``."""
    if not text:
        return None
    return [name.strip() for name in text.split(',') if name.strip()]


def model_dataset(args, det: Detector, split: str
                  ) -> Tuple[DetectionDataset, ClassMap, str]:
    """The ``split`` of the dataset the flags name, its classes paired with the model's, and
    the dataset as the flags say it (``'--dataset voc (~/VOCdevkit)'``).

    Without ``--dataset``, a checkpoint's own dataset (recorded at training) is used, and
    said; else ``shapes``.

    Raises
    ------
    ssd_zoo.data.ClassMismatchError
        The dataset has classes the model does not know (both lists in the message).
    """
    name, root = args.dataset, args.dataset_root
    if name is None:
        name = det.info.get('dataset') or 'shapes'
        root = root or det.info.get('dataset_root') or None
        if det.info.get('dataset'):
            print('dataset: %s%s, the one %s was trained on (--dataset chooses another)'
                  % (name, ' at %s' % root if root else '', det.source))
    dataset = build_dataset(name, root, class_list(args.classes), split,
                            strict=args.strict_data)
    where = '--dataset %s%s' % (name, ' (%s)' % root if root else '')
    hint = ('Give the dataset the model was made for (--dataset, --dataset-root), select the '
            'model\'s classes with --classes, or fine-tune the model on this dataset '
            '(train_ssd.py --resume PREFIX.params)')
    return dataset, match_classes(det.classes, dataset.classes, where, hint), where
