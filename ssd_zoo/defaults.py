"""The numbers every part of ssd_zoo shares: the Gluon models, the training loss, the
decoders, the exporters and the legacy symbolic API all read them from here.

Each value is the one of the SSD paper and of GluonCV unless its comment says otherwise;
change one here and every part follows.
"""
from __future__ import annotations

from typing import Tuple

import mxnet as mx

__all__ = ['MEAN', 'STD', 'MEAN_PIXEL', 'VARIANCES', 'MATCH_IOU', 'NEGATIVE_RATIO',
           'NEGATIVE_IOU', 'IGNORE_LABEL', 'SCORE_THRESH', 'NMS_THRESH', 'NMS_TOPK',
           'POST_NMS', 'LEGACY_NMS_THRESH', 'KEEP_ASPECT', 'R3', 'R5', 'ssd_ratios', 'layer_init',
           'predictor_init']

#: ImageNet statistics (RGB, on [0, 1] pixels): every backbone here was trained with them
MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)
#: the mean as a uint8 pixel, the fill of zoomed-out training images
MEAN_PIXEL = tuple(int(round(m * 255)) for m in MEAN)

#: box-offset scaling (GluonCV's ``stds``, MXNet's ``variances``): centre by 0.1, size by 0.2
VARIANCES: Tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2)

#: ``MultiBoxTarget``: an anchor is a positive above this IoU with a ground-truth box
MATCH_IOU = 0.5
#: hard negatives kept per positive (3:1, SSD paper section 2.2)
NEGATIVE_RATIO = 3.0
#: negatives are mined only among anchors whose best IoU is below this
NEGATIVE_IOU = 0.5
#: class target of anchors that are neither positives nor mined negatives
IGNORE_LABEL = -1

#: candidates below this class probability are dropped before NMS (GluonCV and MXNet)
SCORE_THRESH = 0.01
#: NMS IoU threshold of the Gluon models: 0.45, as the SSD paper, GluonCV and torchvision
#: decode (GluonCV weights then give GluonCV's detections)
NMS_THRESH = 0.45
#: boxes considered by NMS, best first, and detections returned per image (GluonCV's)
NMS_TOPK = 400
POST_NMS = 100
#: whether the scripts' inference (demo, evaluation) keeps an image's aspect ratio by default
#: (short side = data shape) rather than squashing it to a square; chosen by measurement
#: (benchmarks/aspect.md)
KEEP_ASPECT = True
#: the MXNet example's own NMS threshold, kept by the legacy symbolic API (its
#: ``get_symbol`` default) so that its deployed models decode as before
LEGACY_NMS_THRESH = 0.5

#: aspect-ratio sets of the SSD paper: 4 anchors per location (R3) and 6 (R5)
R3: Tuple[float, ...] = (1.0, 2.0, 0.5)
R5: Tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3)


def ssd_ratios(num_heads: int) -> Tuple[Tuple[float, ...], ...]:
    """The SSD paper's ratio sets per head: R3 on the first and the last two heads, R5 in
    between (every head R3 below three heads).

    >>> len(ssd_ratios(6)), ssd_ratios(6)[1] == R5
    (6, True)
    """
    if num_heads < 3:
        return (R3,) * num_heads
    return (R3,) + (R5,) * (num_heads - 3) + (R3,) * 2


def layer_init() -> mx.init.Initializer:
    """Weights of layers trained from scratch (extra layers, plainnet, SSD default):
    Xavier, gaussian, fan-out, magnitude 2 (Caffe's "msra", GluonCV's SSD convention)."""
    return mx.init.Xavier(rnd_type='gaussian', factor_type='out', magnitude=2)


def predictor_init() -> mx.init.Initializer:
    """Weights of the class and box predictors: uniform Xavier, magnitude 2 (GluonCV's
    ``ConvPredictor``)."""
    return mx.init.Xavier(magnitude=2)
