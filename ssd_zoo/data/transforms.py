"""SSD augmentation on HWC uint8 images with OpenCV and vectorized box maths.

The training transform is GluonCV's recipe (photometric distortion, zoom-out "expand" with
mean fill, IoU-constrained random crop, resize with a random interpolation, horizontal flip),
computed differently: expand, crop, resize and flip are one affine map, applied by a single
``cv2.warpAffine`` from the source image straight to the output size (the expanded canvas is
never allocated), and the photometric distortion runs on the small output image. Outputs stay
uint8 HWC; scaling to float and normalizing happens on the device
(:func:`ssd_zoo.data.preprocess.normalize_batch`).

Every random choice comes from the ``rng`` argument (``numpy.random.Generator``), so a sample's
augmentation is reproducible from its (seed, epoch, index).
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from ..boxes import pairwise_iou
from ..defaults import MEAN, MEAN_PIXEL, STD
from .preprocess import normalize_batch

__all__ = ['TrainTransform', 'ValTransform', 'KeepAspectTransform', 'aspect_size',
           'SIZE_MULTIPLE', 'MAX_SIZE_RATIO', 'random_crop_window', 'normalize_batch',
           'pairwise_iou', 'MEAN', 'STD', 'INTERPOLATIONS', 'AUGMENT_PRESETS']

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST,
                  cv2.INTER_LANCZOS4)
#: named augmentation recipes (``--augment``): TrainTransform options
AUGMENT_PRESETS = {'full': {},  # the SSD recipe: distort, expand, IoU crop, flip
                   'flip': dict(distort=False, expand=False, crop=False),
                   'none': dict(distort=False, expand=False, crop=False, flip=False)}
#: the long side of an aspect-preserving input is rounded to a multiple of this, so that photos
#: of nearly the same shape share one input shape (each new shape costs the hybridized graph
#: a new shape inference and new oneDNN primitives, and a batch of them less padding)
SIZE_MULTIPLE = 16
#: an aspect-preserving input's long side is at most this many times ``data_shape`` (compute
#: grows with it; GluonCV's Faster R-CNN caps 1000 at a 600 short side, 1.67)
MAX_SIZE_RATIO = 3.0
#: (min IoU, max IoU) of the crop with every object, one candidate crop per pair (SSD paper)
CROP_CONSTRAINTS = ((0.1, None), (0.3, None), (0.5, None), (0.7, None), (0.9, None), (None, 1))


def _size_pair(size) -> Tuple[int, int]:
    return (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))


def random_crop_window(boxes: np.ndarray, width: float, height: float, rng,
                       min_scale=0.3, max_scale=1.0, max_aspect_ratio=2.0,
                       constraints=CROP_CONSTRAINTS, trials=50):
    """Choose a crop ``(x, y, w, h)`` as SSD does, trying all ``trials`` of a constraint at once.

    For each (min IoU, max IoU) constraint, the first of ``trials`` random windows whose IoU
    with every object lies in range becomes a candidate; the whole image is a candidate too.
    Candidates are tried in random order until one keeps at least one object centre.

    Returns
    -------
    (window, keep)
        The window and the boolean mask of the boxes whose centres it contains (``None``
        window: use the whole image).
    """
    candidates = [None]
    for min_iou, max_iou in constraints:
        scale = rng.uniform(min_scale, max_scale, trials)
        low = np.maximum(1.0 / max_aspect_ratio, scale * scale)
        high = np.minimum(max_aspect_ratio, 1.0 / (scale * scale))
        ratio = low + (high - low) * rng.random(trials)
        crop_w = width * scale * np.sqrt(ratio)
        crop_h = height * scale / np.sqrt(ratio)
        x = rng.random(trials) * (width - crop_w)
        y = rng.random(trials) * (height - crop_h)
        windows = np.stack([x, y, x + crop_w, y + crop_h], axis=1)
        if len(boxes):
            iou = pairwise_iou(windows, boxes)
            ok = np.ones(trials, bool)
            if min_iou is not None:
                ok &= iou.min(axis=1) >= min_iou
            if max_iou is not None:
                ok &= iou.max(axis=1) <= max_iou
        else:
            ok = np.ones(trials, bool)
        if ok.any():
            candidates.append(windows[int(np.argmax(ok))])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2 if len(boxes) else np.zeros((0, 2))
    for pick in rng.permutation(len(candidates)):
        window = candidates[pick]
        if window is None:
            return None, np.ones(len(boxes), bool)
        keep = np.all((centres > window[:2]) & (centres < window[2:]), axis=1)
        if keep.any() or not len(boxes):
            return window, keep
    return None, np.ones(len(boxes), bool)


def _distort(image: np.ndarray, rng) -> np.ndarray:
    """Photometric distortion (brightness 32, contrast and saturation 0.5-1.5, hue 18 deg)."""
    def brightness(img):
        return cv2.convertScaleAbs(img, alpha=1.0, beta=rng.uniform(-32, 32)) \
            if rng.random() < 0.5 else img

    def contrast(img):
        return cv2.convertScaleAbs(img, alpha=rng.uniform(0.5, 1.5)) \
            if rng.random() < 0.5 else img

    def saturation_hue(img):
        do_sat, do_hue = rng.random() < 0.5, rng.random() < 0.5
        if not (do_sat or do_hue):
            return img
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        if do_hue:  # OpenCV hue is in [0, 180): 18 degrees are 9 units
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(rng.integers(-9, 10))) % 180)
        if do_sat:
            hsv[..., 1] = cv2.convertScaleAbs(hsv[..., 1], alpha=rng.uniform(0.5, 1.5))
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    image = brightness(image)
    if rng.random() < 0.5:
        return saturation_hue(contrast(image))
    return contrast(saturation_hue(image))


class TrainTransform:
    """SSD training augmentation; ``(image, label, rng) -> (image, label)``.

    Parameters
    ----------
    size : int or (width, height)
        Output size.
    distort, expand, crop, flip : bool
        Enable each step (all on: GluonCV's recipe; all off: a plain resize).
    max_expand : float
        Largest zoom-out ratio (the image is placed at random on a mean-coloured canvas).
    random_interpolation : bool
        Pick the resize interpolation at random (else bilinear).
    """

    def __init__(self, size, distort=True, expand=True, crop=True, flip=True, max_expand=4.0,
                 random_interpolation=True):
        self.width, self.height = _size_pair(size)
        self.distort, self.expand, self.crop, self.flip = distort, expand, crop, flip
        self.max_expand = max_expand
        self.random_interpolation = random_interpolation

    def __call__(self, image: np.ndarray, label: np.ndarray, rng):
        height, width = image.shape[:2]
        boxes = label[:, :4].astype(np.float64)
        # 1. zoom out: the image sits at (ox, oy) of a canvas ratio times larger (not allocated)
        ox = oy = 0.0
        canvas_w, canvas_h = float(width), float(height)
        if self.expand and rng.random() < 0.5:
            ratio = rng.uniform(1, self.max_expand)
            canvas_w, canvas_h = width * ratio, height * ratio
            ox, oy = rng.uniform(0, canvas_w - width), rng.uniform(0, canvas_h - height)
            boxes = boxes + [ox, oy, ox, oy]
        # 2. IoU-constrained crop of the canvas
        window, keep = (None, np.ones(len(boxes), bool))
        if self.crop:
            window, keep = random_crop_window(boxes, canvas_w, canvas_h, rng)
        x0, y0, x1, y1 = window if window is not None else (0.0, 0.0, canvas_w, canvas_h)
        boxes, label = boxes[keep], label[keep]
        boxes = np.clip(boxes - [x0, y0, x0, y0], 0, [x1 - x0, y1 - y0] * 2)
        # 3. resize (+ flip): canvas x -> (x - x0) * sx, one affine from the source image
        sx, sy = self.width / (x1 - x0), self.height / (y1 - y0)
        flip = self.flip and rng.random() < 0.5
        interpolation = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))] \
            if self.random_interpolation else cv2.INTER_LINEAR
        out = _warp(image, sx, sy, ox - x0, oy - y0, self.width, self.height, flip,
                    interpolation)
        boxes = boxes * [sx, sy, sx, sy]
        if flip:
            boxes = np.stack([self.width - boxes[:, 2], boxes[:, 1],
                              self.width - boxes[:, 0], boxes[:, 3]], axis=1)
        if self.distort:
            out = _distort(out, rng)
        label = label.copy()
        label[:, :4] = boxes
        # a box squeezed below a pixel carries no signal and breaks the target encoding
        valid = (label[:, 2] - label[:, 0] >= 1) & (label[:, 3] - label[:, 1] >= 1)
        return out, label[valid].astype(np.float32)


def _warp(image, sx, sy, tx, ty, out_w, out_h, flip, interpolation):
    """Map source pixels by ``x -> (x + tx) * sx`` (mirrored if ``flip``) into out_w x out_h."""
    if min(sx, sy) < 0.5 and interpolation != cv2.INTER_NEAREST:
        # warpAffine samples without low-pass filtering: shrink with INTER_AREA first
        k = min(1.0, 2 * min(sx, sy))
        image = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        sx, sy, tx, ty = sx / k, sy / k, tx * k, ty * k
    if (sx, sy, tx, ty) == (1, 1, 0, 0) and image.shape[:2] == (out_h, out_w):
        # the map is the identity or a mirror (images already at the input size, as the
        # shapes data): every interpolation samples whole pixels there, so warpAffine would
        # copy them - at 4 ms per 300 x 300 image, a third of the loader's time
        return (image[:, ::-1] if flip else image).copy()
    # pixel centres: (x_dst + .5) = ((x_src + .5) + tx) * sx
    matrix = np.array([[sx, 0, (0.5 + tx) * sx - 0.5], [0, sy, (0.5 + ty) * sy - 0.5]])
    if flip:
        matrix[0] = [-sx, 0, out_w - 1 - matrix[0, 2]]
    if interpolation == cv2.INTER_AREA:  # not supported by warpAffine
        interpolation = cv2.INTER_LINEAR
    return cv2.warpAffine(image, matrix, (out_w, out_h), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=MEAN_PIXEL)


class ValTransform:
    """Resize to the network input, ``size`` or ``(width, height)`` (bilinear); labels follow.
    ``rng`` is accepted and unused."""

    def __init__(self, size):
        self.width, self.height = _size_pair(size)

    def __call__(self, image: np.ndarray, label: np.ndarray, rng=None):
        height, width = image.shape[:2]
        out = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        label = label.astype(np.float32).copy()
        label[:, :4] *= [self.width / width, self.height / height] * 2
        return out, label


def aspect_size(height: int, width: int, short: int, max_long: int = None,
                min_side: int = 0) -> Tuple[int, int]:
    """``(height, width)`` of an image scaled so that its short side is ``short`` and its long
    side at most ``max_long`` (default ``MAX_SIZE_RATIO * short``; the short side then
    shrinks, but not below ``min_side``, the network's smallest input). The long side is
    rounded to :data:`SIZE_MULTIPLE`; a square image gets exactly ``short x short``.
    """
    max_long = max_long or int(MAX_SIZE_RATIO * short)
    small, large = min(height, width), max(height, width)
    scale = min(short / small, max_long / large)
    small_out = max(int(round(small * scale)), min_side, 1)
    large_out = max(int(round(large * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE, small_out)
    if small == large:
        large_out = small_out
    return (small_out, large_out) if height <= width else (large_out, small_out)


class KeepAspectTransform:
    """Resize to the image's own aspect ratio (:func:`aspect_size`); labels follow.

    The SSD's anchors are computed from its feature maps, so one network takes any such size;
    a square resize would squash a wide photo's objects instead.
    """

    def __init__(self, short: int, max_long: int = None, min_side: int = 0):
        self.short, self.max_long, self.min_side = short, max_long, min_side

    def __call__(self, image: np.ndarray, label: np.ndarray, rng=None):
        height, width = image.shape[:2]
        out_h, out_w = aspect_size(height, width, self.short, self.max_long, self.min_side)
        return ValTransform((out_w, out_h))(image, label)
