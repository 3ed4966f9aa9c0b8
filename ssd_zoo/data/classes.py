"""Pairing a model's classes with a dataset's by name, wherever a model meets a dataset
(evaluation, quantization calibration, fine-tuning from a checkpoint).

Classes are never paired by position: a model trained on ``circle, rectangle`` evaluated on a
dataset listing ``rectangle, circle`` scores each class against its own boxes, and a dataset
whose classes the model does not know is refused with both lists, instead of reporting the
APs of whichever classes happen to share an index.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

__all__ = ['ClassMap', 'ClassMismatchError', 'match_classes', 'fold_name']

log = logging.getLogger(__name__)


class ClassMismatchError(ValueError):
    """A model and a dataset whose classes cannot be paired by name."""


def fold_name(name: str) -> str:
    """A class name as compared: without surrounding spaces and case (GluonCV's VOC reader)."""
    return name.strip().lower()


@dataclass
class ClassMap:
    """Where each of the model's class ids lands among the dataset's.

    Attributes
    ----------
    model_classes, dataset_classes : list of str
    to_dataset : numpy.ndarray
        ``(len(model_classes),)`` int: the dataset's id of each model class, ``-1`` for a
        class the dataset does not have (its detections are not scored).
    """

    model_classes: List[str]
    dataset_classes: List[str]
    to_dataset: np.ndarray

    @property
    def identity(self) -> bool:
        """The model's ids are the dataset's."""
        return (len(self.model_classes) == len(self.dataset_classes)
                and bool((self.to_dataset == np.arange(len(self.to_dataset))).all()))

    def dataset_ids(self, ids: np.ndarray) -> np.ndarray:
        """Model class ids (``-1`` for none, any shape, float or int) as the dataset's ids;
        ids of classes the dataset lacks become ``-1``."""
        ids = np.asarray(ids)
        if self.identity:
            return ids
        flat = ids.astype(np.int64)
        valid = (flat >= 0) & (flat < len(self.to_dataset))
        out = np.full(flat.shape, -1, np.int64)
        out[valid] = self.to_dataset[flat[valid]]
        return out.astype(ids.dtype)


def match_classes(model_classes: Sequence[str], dataset_classes: Sequence[str],
                  dataset: str = 'the dataset', hint: str = '') -> ClassMap:
    """Pair the classes by name (case and surrounding spaces ignored).

    The same names in another order are mapped; the model may know more classes than the
    dataset (their detections are not scored, and this is logged).

    Raises
    ------
    ClassMismatchError
        The dataset has a class the model does not know (both lists named, with ``hint``).
    """
    model_classes, dataset_classes = list(model_classes), list(dataset_classes)
    index = {fold_name(name): i for i, name in enumerate(dataset_classes)}
    known = {fold_name(name) for name in model_classes}
    unknown = [name for name in dataset_classes if fold_name(name) not in known]
    if unknown:
        what = ('shares no class with the model' if len(unknown) == len(dataset_classes)
                else 'has classes the model does not know (%s)' % ', '.join(unknown))
        raise ClassMismatchError('%s %s. The model\'s classes: %s; %s\'s: %s%s'
                                 % (dataset, what, ', '.join(model_classes), dataset,
                                    ', '.join(dataset_classes), '. ' + hint if hint else ''))
    to_dataset = np.array([index.get(fold_name(name), -1) for name in model_classes], np.int64)
    unscored = [name for name, k in zip(model_classes, to_dataset) if k < 0]
    if unscored:
        log.info('%s lacks the model classes %s: their detections are not scored', dataset,
                 ', '.join(unscored))
    if list(to_dataset) != sorted(to_dataset) or unscored:
        log.info('model classes paired with %s by name: %s', dataset, ', '.join(
            '%s->%s' % (name, dataset_classes[k]) for name, k in zip(model_classes, to_dataset)
            if k >= 0))
    return ClassMap(model_classes, dataset_classes, to_dataset)
