#!/usr/bin/env python
"""Detect objects in images or folders; save annotated PNGs and print a table.

    python scripts/demo_ssd.py --checkpoint runs/main/best data/shapes/JPEGImages/002000.jpg
    python scripts/demo_ssd.py --symbol runs/main/export/ssd photos/ --out detections/
"""
import argparse
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from _common import add_model_flags, context, load, run  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ssd_zoo.data import ValTransform, normalize_batch, read_image  # noqa: E402
from ssd_zoo.evaluation import as_numpy  # noqa: E402
from ssd_zoo.viz import draw_detections  # noqa: E402

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def image_files(inputs):
    for item in inputs:
        if os.path.isdir(item):
            for name in sorted(os.listdir(item)):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    yield os.path.join(item, name)
        elif os.path.isfile(item):
            yield item
        else:
            raise SystemExit('%s is neither an image file nor a folder' % item)


def detect(det, path, ctx, thresh):
    """Detections of one image, boxes in its own pixels: [(class, score, box)]."""
    image = read_image(path)
    height, width = image.shape[:2]
    resized, _ = ValTransform(det.data_shape)(image, np.zeros((0, 6), np.float32))
    x = normalize_batch(mx.nd.array(resized[None], dtype='uint8', ctx=ctx))
    ids, scores, boxes = [as_numpy(a)[0] for a in det.net(x)]
    boxes = boxes * ([width / det.data_shape, height / det.data_shape] * 2)
    keep = (ids[:, 0] >= 0) & (scores[:, 0] >= thresh)
    return image, ids[keep, 0], scores[keep, 0], boxes[keep]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(p, onnx=True)
    p.add_argument('images', nargs='+', help='image files or folders')
    p.add_argument('--thresh', type=float, default=0.5, help='lowest score drawn and listed')
    p.add_argument('--out', default='detections', help='folder for the annotated PNGs')
    args = p.parse_args(argv)
    det = load(args)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for path in tqdm(list(image_files(args.images)), desc='detecting'):
        image, ids, scores, boxes = detect(det, path, context(args), args.thresh)
        ax = draw_detections(image, boxes, scores, ids, det.classes, thresh=args.thresh)
        target = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0] + '.png')
        ax.figure.savefig(target, bbox_inches='tight', dpi=100)
        plt.close(ax.figure)
        for cls, score, box in zip(ids, scores, boxes):
            rows.append((os.path.basename(path), det.classes[int(cls)], score, box))
    print('%-20s %-12s %6s  %s' % ('image', 'class', 'score', 'box (x1, y1, x2, y2)'))
    for name, cls, score, box in rows:
        print('%-20s %-12s %6.3f  %s' % (name, cls, score, ', '.join('%.0f' % v for v in box)))
    print('%d detections; pictures in %s' % (len(rows), args.out))
    return 0


if __name__ == '__main__':
    run(main)
