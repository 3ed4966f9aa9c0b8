"""``shapes``: a synthetic detection dataset, generated on disk in VOC format, no download.

Filled circles, rectangles, triangles and stars of many sizes and colours on cluttered
backgrounds (colour gradients, noise, line and outline clutter), partly occluding each other.
The same seed always writes the same files; a finished dataset is reused.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..boxes import iou
from ..fileio import atomic_path
from .voc import write_voc_annotation

__all__ = ['ShapesSpec', 'SHAPE_CLASSES', 'generate_shapes', 'default_shapes_root']

log = logging.getLogger(__name__)

SHAPE_CLASSES = ('circle', 'rectangle', 'triangle', 'star')
_MARKER = 'shapes.json'


@dataclass(frozen=True)
class ShapesSpec:
    """What to generate; the whole spec is part of the dataset's identity."""

    num_train: int = 2000
    num_val: int = 300
    image_size: int = 300
    #: None: square images; else the width (``image_size`` is then the height), e.g. 533 for
    #: 16:9 photos-like frames
    image_width: Optional[int] = None
    min_objects: int = 1
    max_objects: int = 6
    min_side: int = 20
    max_side: int = 160
    max_overlap: float = 0.4   # IoU allowed between two objects (occlusion, still findable)
    seed: int = 0


def default_shapes_root() -> str:
    """``$SSD_ZOO_DATA/shapes`` or ``./data/shapes``."""
    return os.path.join(os.environ.get('SSD_ZOO_DATA', 'data'), 'shapes')


def _background(rng, width, height):
    corners = rng.integers(0, 256, size=(2, 2, 3)).astype(np.float32)
    image = cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR)
    image += rng.normal(0, rng.uniform(3, 15), size=image.shape).astype(np.float32)
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


def render_image(rng, spec: ShapesSpec) -> Tuple[np.ndarray, List[Tuple[str, List[int]]]]:
    """One image (HWC RGB uint8) and its objects ``(class, [x1, y1, x2, y2])`` (0-based, incl.)."""
    height, width = spec.image_size, spec.image_width or spec.image_size
    image = _background(rng, width, height)
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
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.fillPoly(image, [np.round(points * 16).astype(np.int32)], color,
                     lineType=cv2.LINE_AA, shift=4)
        objects.append((cls, [int(v) for v in box]))
        boxes.append(box)
    return image, objects


def _identity(spec: ShapesSpec) -> dict:
    # unset options are left out, so that adding one does not invalidate existing datasets
    return {k: v for k, v in asdict(spec).items() if v is not None}


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
    rng = np.random.default_rng(spec.seed)
    splits = {'train': spec.num_train, 'val': spec.num_val}
    total = sum(splits.values())
    index = 0
    for split, count in splits.items():
        ids = []
        for _ in range(count):
            image_id = '%06d' % index
            image, objects = render_image(rng, spec)
            with atomic_path(os.path.join(root, 'JPEGImages', image_id + '.jpg')) as path:
                cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 92])
            with atomic_path(os.path.join(root, 'Annotations', image_id + '.xml')) as path:
                write_voc_annotation(path, image_id + '.jpg', image.shape, objects)
            ids.append(image_id)
            index += 1
            if progress:
                progress(index, total)
        with atomic_path(os.path.join(root, 'ImageSets', 'Main', split + '.txt')) as path, \
                open(path, 'w') as f:
            f.write('\n'.join(ids) + '\n')
    with atomic_path(os.path.join(root, 'classes.txt')) as path, open(path, 'w') as f:
        f.write('\n'.join(SHAPE_CLASSES) + '\n')
    with atomic_path(os.path.join(root, _MARKER)) as path, open(path, 'w') as f:
        json.dump(_identity(spec), f)
    return root
