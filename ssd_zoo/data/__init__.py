"""Datasets (VOC folders, COCO JSON, RecordIO/.lst, the synthetic ``shapes``), transforms and
loaders. Every dataset returns ``(HWC RGB uint8 image, label (M, 6) [x1, y1, x2, y2, cls,
difficult] in pixels)``."""
from .base import BadDataError, DetectionDataset, read_image
from .cache import DecodedImageCache
from .classes import ClassMap, ClassMismatchError, match_classes
from .coco import COCODetection
from .factory import DATASETS, build_dataset, build_datasets
from .loader import AugmentedDataset, EpochBatchSampler, batchify, make_loader
from .record import LstDetection, RecordDetection
from .shapes import SHAPE_CLASSES, ShapesSpec, default_shapes_root, generate_shapes
from .transforms import TrainTransform, ValTransform, normalize_batch
from .voc import VOC_CLASSES, VOCDetection, VOCFolder, read_class_list

__all__ = ['ClassMap', 'ClassMismatchError', 'match_classes', 'COCODetection', 'DATASETS',
           'build_dataset', 'build_datasets', 'LstDetection', 'RecordDetection',
           'BadDataError', 'DetectionDataset', 'read_image', 'DecodedImageCache',
           'AugmentedDataset', 'EpochBatchSampler', 'batchify', 'make_loader', 'SHAPE_CLASSES',
           'ShapesSpec', 'default_shapes_root', 'generate_shapes', 'TrainTransform',
           'ValTransform', 'normalize_batch', 'VOC_CLASSES', 'VOCDetection', 'VOCFolder',
           'read_class_list']
