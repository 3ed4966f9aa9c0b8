#!/usr/bin/env python
"""Square resize vs the image's own aspect ratio (``--keep-aspect``), measured: VOC07 mAP and
images/s of one model on shapes validation sets rendered at 1:1, 4:3 and 16:9 (the same
object sizes as the training images, on wider canvases).

    python scripts/benchmark_aspect.py                       # the model of `make run`
    python scripts/benchmark_aspect.py --checkpoint runs/x/best --images 300

Writes ``benchmarks/aspect.md``; the scripts' default resize (``ssd_zoo.defaults.KEEP_ASPECT``)
is the one it favours.
"""
import ssd_zoo  # noqa: F401  (first: one MXNet thread per core, before libmxnet loads)

# isort: split
import os

from ssd_zoo.cli.options import run, script_parser
from ssd_zoo.data import VOCFolder, generate_shapes, make_loader
from ssd_zoo.data.shapes import ShapesSpec
from ssd_zoo.deploy import load_detector
from ssd_zoo.evaluation import evaluate
from ssd_zoo.runtime import describe

#: (name, width) of the validation canvases, 300 pixels high
CANVASES = (('1:1', 300), ('4:3', 400), ('16:9', 533))


def measure(det, dataset, keep_aspect):
    """``(VOC07 mAP, img/s, 'HxW' of the network input)``."""
    transform = det.input_transform(keep_aspect)
    loader, _ = make_loader(dataset, transform, 16, shuffle=False, drop_last=False)
    result = evaluate(det, loader, dataset.classes, ('voc07',))
    image, label = dataset[0]
    return (result['voc07']['mAP'], result['img_per_s'],
            '%dx%d' % transform(image, label)[0].shape[:2])


def main(argv=None):
    p = script_parser(__doc__)
    p.add_argument('--checkpoint', default=os.path.join('runs', 'main', 'best'))
    p.add_argument('--images', type=int, default=300, help='validation images per canvas')
    p.add_argument('--data', default=os.path.join('data', 'aspect'), help='where to render')
    p.add_argument('--out', default=os.path.join('benchmarks', 'aspect.md'))
    args = p.parse_args(argv)
    det = load_detector(checkpoint=args.checkpoint)
    rows = []
    for name, width in CANVASES:
        spec = ShapesSpec(num_train=0, num_val=args.images, image_size=300,
                          image_width=width if width != 300 else None, seed=11)
        root = generate_shapes(os.path.join(args.data, name.replace(':', 'x')), spec)
        dataset = VOCFolder(root, 'val')
        for keep in (False, True):
            score, speed, shape = measure(det, dataset, keep)
            rows.append((name, 'keep aspect' if keep else 'square', score, speed, shape))
            print('%-5s %-11s VOC07 mAP %.4f  %.1f img/s' % rows[-1][:4])
    info = describe()
    lines = ['# Square resize vs own aspect ratio', '',
             'Model: `%s` (%s, data shape %d). %d validation images per canvas, 300 pixels '
             'high, objects drawn at the training sizes (`scripts/benchmark_aspect.py`).'
             % (args.checkpoint, det.network, det.data_shape, args.images), '',
             'Machine: %s; oneDNN ISA %s; %d threads (%s).'
             % (info['cpu'], info['onednn_isa'], info['threads'], info['threads_reason']), '',
             '| canvas | resize | network input | VOC07 mAP | img/s |',
             '|---|---|---|---:|---:|']
    for name, resize, score, speed, shape in rows:
        lines.append('| %s | %s | %s | %.4f | %.1f |' % (name, resize, shape, score, speed))
    lines += ['', 'Network input is HxW. Keep aspect: short side = data shape, long side '
              'rounded to 16 (`ssd_zoo.data.transforms.aspect_size`).', '']
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines))
    print('written %s' % args.out)
    return 0


if __name__ == '__main__':
    run(main)
