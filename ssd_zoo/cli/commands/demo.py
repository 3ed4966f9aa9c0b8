"""Detect objects in images or folders; save annotated PNGs and print a table.

    ssd-zoo demo --checkpoint runs/main/best data/shapes/JPEGImages/002000.jpg
    ssd-zoo demo --symbol runs/main/export/ssd_300_plainnet_shapes photos/ \\
        --out detections/
"""
import os
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ssd_zoo.cli.images import IMAGE_EXTENSIONS, collect_images  # noqa: E402
from ssd_zoo.cli.options import (  # noqa: E402
    add_model_flags,
    add_resize_flags,
    bounded,
    device,
    load_model,
    resize_description,
    resize_options,
    script_parser,
)
from ssd_zoo.data import BadDataError, read_image  # noqa: E402
from ssd_zoo.viz import draw_detections  # noqa: E402


def main(argv=None):
    p = script_parser(__doc__)
    add_model_flags(p, onnx=True)
    p.add_argument('images', nargs='+', help='image files or folders (searched recursively)')
    p.add_argument('--thresh', type=bounded(float, 0, 1), default=0.5,
                   help='lowest score drawn and listed')
    p.add_argument('--out', default='detections', help='folder for the annotated PNGs')
    add_resize_flags(p)
    args = p.parse_args(argv)
    det = load_model(args)
    resize = resize_options(args, det)
    images, others = collect_images(args.images)
    if others:
        print('not images, left alone: %s' % ', '.join(
            '%d %s' % (n, ext) for ext, n in sorted(others.items())))
    if not images:
        raise FileNotFoundError('no image in %s (looked for %s)' % (
            ', '.join(args.images), ', '.join(IMAGE_EXTENSIONS)))
    rows, failed = [], []
    for path, name in tqdm(images, desc='detecting'):
        try:
            image = read_image(path)
        except BadDataError as err:
            print('demo_ssd.py: %s (skipped)' % err, file=sys.stderr)
            failed.append(path)
            continue
        found = det.detect(image, args.thresh, device(args), **resize)
        ax = draw_detections(image, found.boxes, found.scores, found.ids, det.classes,
                             thresh=args.thresh)
        target = os.path.join(args.out, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        ax.figure.savefig(target, bbox_inches='tight', dpi=100)
        plt.close(ax.figure)
        for cls, score, box in zip(found.ids, found.scores, found.boxes):
            rows.append((path, det.classes[int(cls)], score, box))
    width = max([len('image')] + [len(r[0]) for r in rows])
    print('%-*s %-12s %6s  %s' % (width, 'image', 'class', 'score', 'box (x1, y1, x2, y2)'))
    for name, cls, score, box in rows:
        print('%-*s %-12s %6.3f  %s' % (width, name, cls, score,
                                        ', '.join('%.0f' % v for v in box)))
    print('%d detections in %d images (%s); pictures in %s'
          % (len(rows), len(images) - len(failed), resize_description(det, resize), args.out))
    if failed:
        print('demo_ssd.py: %d of %d images could not be read: %s'
              % (len(failed), len(images), ', '.join(failed)), file=sys.stderr)
        return 1
    return 0
