#!/usr/bin/env python
"""Detect objects in images or folders; save annotated PNGs and print a table.

    python scripts/demo_ssd.py --checkpoint runs/main/best data/shapes/JPEGImages/002000.jpg
    python scripts/demo_ssd.py --symbol runs/main/export/ssd_300_plainnet_shapes photos/ \\
        --out detections/
"""
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ssd_zoo.cli.common import add_model_flags, device, load_model, run, script_parser  # noqa: E402
from ssd_zoo.data import read_image  # noqa: E402
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
            raise FileNotFoundError('%s is neither an image file nor a folder' % item)


def main(argv=None):
    p = script_parser(__doc__)
    add_model_flags(p, onnx=True)
    p.add_argument('images', nargs='+', help='image files or folders')
    p.add_argument('--thresh', type=float, default=0.5, help='lowest score drawn and listed')
    p.add_argument('--out', default='detections', help='folder for the annotated PNGs')
    args = p.parse_args(argv)
    det = load_model(args)
    paths = list(image_files(args.images))
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for path in tqdm(paths, desc='detecting'):
        image = read_image(path)
        found = det.detect(image, args.thresh, device(args))
        ax = draw_detections(image, found.boxes, found.scores, found.ids, det.classes,
                             thresh=args.thresh)
        target = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0] + '.png')
        ax.figure.savefig(target, bbox_inches='tight', dpi=100)
        plt.close(ax.figure)
        for cls, score, box in zip(found.ids, found.scores, found.boxes):
            rows.append((os.path.basename(path), det.classes[int(cls)], score, box))
    print('%-20s %-12s %6s  %s' % ('image', 'class', 'score', 'box (x1, y1, x2, y2)'))
    for name, cls, score, box in rows:
        print('%-20s %-12s %6.3f  %s' % (name, cls, score, ', '.join('%.0f' % v for v in box)))
    print('%d detections; pictures in %s' % (len(rows), args.out))
    return 0


if __name__ == '__main__':
    run(main)
