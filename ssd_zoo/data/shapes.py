"""``shapes``: a synthetic detection dataset, generated on disk in VOC format, no download.

Filled circles, rectangles, triangles and stars of many sizes and colours on cluttered
backgrounds (colour gradients, noise, line and outline clutter), partly occluding each other
(every object keeps at least half of its pixels visible).
The same seed always writes the same files; a finished dataset is reused. Every image is drawn
from its own random stream, a function of the seed, its split and its index only: a larger
training split keeps the same validation images, and the images are drawn in parallel.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..boxes import iou
from ..fileio import atomic_path
from ..runtime import choose_threads
from .loader import one_opencv_thread_in_children
from .voc import write_voc_annotation

__all__ = ['ShapesSpec', 'SHAPE_CLASSES', 'generate_shapes', 'default_shapes_root']

log = logging.getLogger(__name__)

SHAPE_CLASSES = ('circle', 'rectangle', 'triangle', 'star')
_MARKER = 'shapes.json'
#: the drawing algorithm's version, part of a dataset's identity: a dataset written by another
#: version is regenerated (2: one random stream per image instead of one for the whole set,
#: and no object hidden by later ones beyond ``ShapesSpec.min_visible``)
GENERATOR_VERSION = 2
_SPLITS = ('train', 'val')
_SHIFT = 4  # polygons are drawn with 1/16-pixel vertex precision
#: pixel noise is a standard normal quantised to 256 equally likely levels (their quantiles),
#: drawn as random bytes: a third of the time of normal draws, and no different in a JPEG
_STANDARD_NORMAL_LEVELS = np.array(
    [NormalDist().inv_cdf((k + 0.5) / 256) for k in range(256)], np.float32)


@dataclass(frozen=True)
class ShapesSpec:
    """What to generate; the whole spec is part of the dataset's identity."""

    num_train: int = 5000
    num_val: int = 300
    image_size: int = 300
    #: None: square images; else the width (``image_size`` is then the height), e.g. 533 for
    #: 16:9 photos-like frames
    image_width: Optional[int] = None
    min_objects: int = 1
    max_objects: int = 6
    min_side: int = 20
    max_side: int = 160
    max_overlap: float = 0.4   # IoU allowed between two objects' boxes
    #: share of its pixels every object keeps visible under the ones drawn after it: the IoU
    #: bound alone lets a large shape cover a small one whole (a label of nothing); below this
    #: a new shape is placed elsewhere
    min_visible: float = 0.5
    seed: int = 0


def default_shapes_root() -> str:
    """``$SSD_ZOO_DATA/shapes`` or ``./data/shapes``."""
    return os.path.join(os.environ.get('SSD_ZOO_DATA', 'data'), 'shapes')


def _background(rng, width, height):
    corners = rng.integers(0, 256, size=(2, 2, 3)).astype(np.float32)
    image = cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR)
    sigma = np.float32(rng.uniform(3, 15))
    levels = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape)
    image += sigma * _STANDARD_NORMAL_LEVELS[levels]
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 12)):  # clutter: lines and empty outlines
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        high = np.array([width, height])  # the same draws as (0, size, 2) when square
        p1, p2 = rng.integers(0, high), rng.integers(0, high)
        if rng.random() < 0.6:
            cv2.line(image, tuple(map(int, p1)), tuple(map(int, p2)), color,
                     int(rng.integers(1, 3)))
        else:
            cv2.circle(image, tuple(map(int, p1)), int(rng.integers(5, 40)), color, 1)
    return image


def _polygon(rng, cls, cx, cy, w, h):
    if cls == 'rectangle':
        return np.array([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2],
                         [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]])
    if cls == 'triangle':
        apex = cx + rng.uniform(-0.4, 0.4) * w
        return np.array([[apex, cy - h / 2], [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]])
    if cls == 'star':
        angles = np.arange(10) * np.pi / 5 - np.pi / 2
        radius = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([cx + radius * np.cos(angles) * w / 2,
                         cy + radius * np.sin(angles) * h / 2], axis=1)
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)  # circle (an ellipse, aspect ~1)
    return np.stack([cx + np.cos(angles) * w / 2, cy + np.sin(angles) * h / 2], axis=1)


class _Visibility:
    """Which object each pixel shows, to refuse a shape that would hide too much of another."""

    def __init__(self, height: int, width: int):
        self.owner = np.full((height, width), -1, np.int32)  # -1: the background
        self.drawn = np.zeros(0, np.int64)    # pixels of each object when it was drawn
        self.visible = np.zeros(0, np.int64)  # its pixels still showing

    def mask(self, polygon: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.owner.shape, np.uint8)
        cv2.fillPoly(mask, [polygon], 1, lineType=cv2.LINE_8, shift=_SHIFT)
        return mask.astype(bool)

    def place(self, mask: np.ndarray, min_visible: float) -> bool:
        """Put ``mask`` on top if every object keeps ``min_visible`` of its pixels visible;
        whether it was put."""
        covered = np.bincount(self.owner[mask] + 1, minlength=len(self.drawn) + 1)[1:]
        if np.any(self.visible - covered < min_visible * self.drawn):
            return False
        pixels = mask.sum()
        self.visible = np.append(self.visible - covered, pixels)
        self.drawn = np.append(self.drawn, pixels)
        self.owner[mask] = len(self.drawn) - 1
        return True


def render_image(rng, spec: ShapesSpec) -> Tuple[np.ndarray, List[Tuple[str, List[int]]]]:
    """One image (HWC RGB uint8) and its objects ``(class, [x1, y1, x2, y2])`` (0-based, incl.)."""
    height, width = spec.image_size, spec.image_width or spec.image_size
    image = _background(rng, width, height)
    visibility = _Visibility(height, width)
    objects, boxes = [], []
    wanted = int(rng.integers(spec.min_objects, spec.max_objects + 1))
    for _ in range(wanted * 10):
        if len(objects) == wanted:
            break
        cls = SHAPE_CLASSES[int(rng.integers(len(SHAPE_CLASSES)))]
        side = float(np.exp(rng.uniform(np.log(spec.min_side), np.log(spec.max_side))))
        aspect = float(np.exp(rng.uniform(-0.5, 0.5))) if cls != 'circle' else \
            float(np.exp(rng.uniform(-0.1, 0.1)))
        w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
        cx, cy = rng.uniform(w / 2, width - w / 2), rng.uniform(h / 2, height - h / 2)
        points = _polygon(rng, cls, cx, cy, w, h)
        x1, y1 = np.floor(points.min(axis=0)).astype(int)
        x2, y2 = np.ceil(points.max(axis=0)).astype(int)
        box = np.clip([x1, y1, x2, y2], 0, [width - 1, height - 1] * 2)
        too_small = box[2] - box[0] < 8 or box[3] - box[1] < 8
        if too_small or (boxes and iou(box, np.asarray(boxes)).max() > spec.max_overlap):
            continue
        polygon = np.round(points * (1 << _SHIFT)).astype(np.int32)
        if not visibility.place(visibility.mask(polygon), spec.min_visible):
            continue
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.fillPoly(image, [polygon], color, lineType=cv2.LINE_AA, shift=_SHIFT)
        objects.append((cls, [int(v) for v in box]))
        boxes.append(box)
    return image, objects


def image_rng(spec: ShapesSpec, split: str, index: int) -> np.random.Generator:
    """The random stream that draws image ``index`` (0-based) of ``split`` (train or val)."""
    return np.random.default_rng([spec.seed, _SPLITS.index(split), index])


def _identity(spec: ShapesSpec) -> dict:
    # unset options are left out, so that adding one does not invalidate existing datasets
    identity = {k: v for k, v in asdict(spec).items() if v is not None}
    identity['generator'] = GENERATOR_VERSION
    return identity


def _complete(root, spec) -> bool:
    marker = os.path.join(root, _MARKER)
    if not os.path.isfile(marker):
        return False
    with open(marker) as f:
        return json.load(f) == _identity(spec)


def generate_shapes(root: str = None, spec: ShapesSpec = ShapesSpec(), progress=None) -> str:
    """Write the dataset under ``root`` (VOC layout) unless the same spec is already there.

    Layout: ``JPEGImages/``, ``Annotations/`` (VOC XML, 1-based pixels), ``ImageSets/Main/
    {train,val}.txt`` and ``classes.txt``. Returns ``root``. Every file is written atomically
    (generation is deterministic, so the workers of a distributed run may generate the same
    dataset at once: readers only ever see complete files).
    """
    root = root or default_shapes_root()
    if _complete(root, spec):
        return root
    log.info('generating shapes dataset (%d train, %d val) in %s', spec.num_train, spec.num_val,
             root)
    for sub in ('JPEGImages', 'Annotations', os.path.join('ImageSets', 'Main')):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    jobs = []  # (root, spec, split, index in the split, image id): ids run on across splits
    for split, count in zip(_SPLITS, (spec.num_train, spec.num_val)):
        first = len(jobs)
        jobs += [(root, spec, split, i, '%06d' % (first + i)) for i in range(count)]
    for done, _ in enumerate(_draw_all(jobs), start=1):
        if progress:
            progress(done, len(jobs))
    for split in _SPLITS:
        ids = [job[4] for job in jobs if job[2] == split]
        with atomic_path(os.path.join(root, 'ImageSets', 'Main', split + '.txt')) as path, \
                open(path, 'w') as f:
            f.write('\n'.join(ids) + '\n')
    with atomic_path(os.path.join(root, 'classes.txt')) as path, open(path, 'w') as f:
        f.write('\n'.join(SHAPE_CLASSES) + '\n')
    with atomic_path(os.path.join(root, _MARKER)) as path, open(path, 'w') as f:
        json.dump(_identity(spec), f)
    return root


def _draw_and_write(job) -> str:
    root, spec, split, index, image_id = job
    image, objects = render_image(image_rng(spec, split, index), spec)
    with atomic_path(os.path.join(root, 'JPEGImages', image_id + '.jpg')) as path:
        cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    with atomic_path(os.path.join(root, 'Annotations', image_id + '.xml')) as path:
        write_voc_annotation(path, image_id + '.jpg', image.shape, objects)
    return image_id


def _draw_all(jobs):
    """Yield the image id of each job as it is written: in one process per available core."""
    # a process per 64 images at most: forking costs more than drawing a test's few images
    workers = min(choose_threads().threads, max(1, len(jobs) // 64))
    if workers == 1:
        yield from map(_draw_and_write, jobs)
        return
    import multiprocessing
    with one_opencv_thread_in_children(), \
            multiprocessing.get_context('fork').Pool(workers) as pool:
        yield from pool.imap_unordered(_draw_and_write, jobs, chunksize=16)
