#!/usr/bin/env python
"""ssd_zoo as a GluonCV drop-in, measured; writes ``benchmarks/gluoncv_loader.md`` and
``benchmarks/gluoncv_drop_in.md``.

    python scripts/gluoncv_drop_in.py loader
    python scripts/gluoncv_drop_in.py train \\
        --gluoncv-script ~/gluon-cv/scripts/detection/ssd/train_ssd.py

``loader``: a GluonCV ``DataLoader`` with one worker process over GluonCV's SSD training
transform (targets from an ssd_zoo model's anchors), run beside an ssd_zoo training step, in a
process that imported ssd_zoo first (its thread settings) and in one that imported mxnet first
(MXNet's defaults, ssd_zoo changes nothing); rounds alternate, img/s of the loop each.

``train``: GluonCV's own ``scripts/detection/ssd/train_ssd.py`` beside ssd_zoo's
``train_ssd.py`` with the same recipe. GluonCV's script runs unchanged except for the two
lines its custom-dataset tutorial changes: ``get_model`` is ssd_zoo's (the ``*_voc`` name
GluonCV composes becomes the ``*_custom`` model with the data's classes; ``plainnet`` has no
ImageNet weights, so the backbone starts from scratch), and ``VOCDetection`` is a subclass
reading the generated ``shapes`` set in VOC layout. Both trainings use GluonCV's recipe
(SGD, lr 1e-3, momentum 0.9, wd 5e-4, GluonCV's full augmentation) on the same images; the
report gives each one's VOC07 mAP and speed.
"""
import argparse
import csv
import os
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time

import ssd_zoo  # first: the thread settings, before libmxnet loads

# isort: split
from ssd_zoo.cli.options import run
from ssd_zoo.data import ShapesSpec, generate_shapes
from ssd_zoo.data.shapes import SHAPE_CLASSES
from ssd_zoo.runtime import cpu_model, describe

RECIPE = ['--lr', '0.001', '--momentum', '0.9', '--wd', '0.0005']


def run_gluoncv_script(script, root, network, size, epochs, batch, out):
    """GluonCV's script in this process, its ``get_model`` and ``VOCDetection`` swapped."""
    import gluoncv
    from gluoncv.data import VOCDetection

    class ShapesVOC(VOCDetection):
        CLASSES = SHAPE_CLASSES

        def __init__(self, splits=((2007, 'trainval'),), **kwargs):
            split = 'val' if any(s[1] == 'test' for s in splits) else 'train'
            super().__init__(root=root, splits=[(2007, split)], **kwargs)

    def get_model(name, **kwargs):
        kwargs['pretrained_base'] = False
        return ssd_zoo.get_model(name.replace('_voc', '_custom'), classes=SHAPE_CLASSES,
                                 **kwargs)

    gluoncv.data.VOCDetection = ShapesVOC
    gluoncv.model_zoo.get_model = get_model
    sys.argv = [script, '--network', network, '--data-shape', str(size), '--batch-size',
                str(batch), '--epochs', str(epochs), '--gpus', '', '--num-workers', '1',
                '--val-interval', '1', '--log-interval', '10', '--save-prefix',
                os.path.join(out, 'gluoncv_')] + RECIPE
    runpy.run_path(script, run_name='__main__')


LOADER_CHILD = r'''
import sys, time
if sys.argv[1] == 'ssd_zoo':
    import ssd_zoo  # noqa: F401  (first: ssd_zoo's thread settings)
import mxnet as mx
import numpy as np
import ssd_zoo
from gluoncv.data.batchify import Stack, Tuple
from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
from ssd_zoo.train import TrainStep
net = ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a', 'b'], pretrained_base=False)
net.initialize()
with mx.autograd.train_mode():
    anchors = net(mx.nd.zeros((1, 3, 300, 300)))[2]
class Data(mx.gluon.data.Dataset):
    def __len__(self):
        return 96
    def __getitem__(self, i):
        image = np.random.default_rng(i).integers(0, 255, (300, 300, 3))
        return (mx.nd.array(image, dtype='uint8'),
                np.array([[30, 40, 150, 200, 0], [100, 100, 250, 280, 1]], np.float32))
loader = mx.gluon.data.DataLoader(
    Data().transform(SSDDefaultTrainTransform(300, 300, anchors)), 8,
    batchify_fn=Tuple(Stack(), Stack(), Stack()), num_workers=1)
trainer = mx.gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 1e-5})
step = TrainStep(net, trainer, [mx.cpu()])
images = np.zeros((8, 300, 300, 3), np.uint8)
labels = np.array([[[30, 40, 150, 200, 0]]] * 8, np.float32)
for epoch in range(2):  # the first warms up
    start, seen = time.perf_counter(), 0
    for batch in loader:
        step(images, labels, 1e-5)
        mx.nd.waitall()
        seen += len(batch[0])
print(seen / (time.perf_counter() - start))
'''


def bench_loader(rounds):
    """img/s of the loader-and-step loop after ``import ssd_zoo`` and after ``import mxnet``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS', 'OMP_WAIT_POLICY',
                        'GOMP_SPINCOUNT')}
    rates = {'ssd_zoo': [], 'mxnet': []}
    for _ in range(rounds):
        for first in rates:
            out = subprocess.run([sys.executable, '-c', LOADER_CHILD, first], env=env,
                                 capture_output=True, text=True, check=True)
            rates[first].append(float(out.stdout.split()[-1]))
            print('%s imported first: %.1f img/s' % (first, rates[first][-1]), flush=True)
    return rates


def timed(command, log_path):
    start = time.perf_counter()
    with open(log_path, 'w') as log:
        status = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    with open(log_path) as f:
        text = f.read()
    if status:
        raise RuntimeError('%s failed (exit %d); its log: %s' % (command[1], status, log_path))
    return seconds, text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='part', required=True)
    loader = sub.add_parser('loader', help='a GluonCV DataLoader worker beside a step')
    loader.add_argument('--rounds', type=int, default=3)
    loader.add_argument('--out', default=os.path.join('benchmarks', 'gluoncv_loader.md'))
    train = sub.add_parser('train', help="GluonCV's train_ssd.py against ssd_zoo's")
    train.add_argument('--gluoncv-script', required=True,
                       help="GluonCV's scripts/detection/ssd/train_ssd.py")
    train.add_argument('--network', default='plainnet')
    train.add_argument('--data-shape', type=int, default=300)
    train.add_argument('--epochs', type=int, default=2)
    train.add_argument('--batch-size', type=int, default=8)
    train.add_argument('--images', type=int, default=800, help='training images (val: 1/4)')
    train.add_argument('--out', default=os.path.join('benchmarks', 'gluoncv_drop_in.md'))
    train.add_argument('--inner', action='store_true', help=argparse.SUPPRESS)
    train.add_argument('--root', help=argparse.SUPPRESS)
    train.add_argument('--work', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.part == 'loader':
        rates = bench_loader(args.rounds)
        ours, theirs = statistics.median(rates['ssd_zoo']), statistics.median(rates['mxnet'])
        write_lines(args.out, [
            '# A GluonCV DataLoader worker process beside an ssd_zoo training step', '',
            machine_line() + ' `python scripts/gluoncv_drop_in.py loader`: one worker '
            "process, GluonCV's SSDDefaultTrainTransform on 300 px images, batch 8, beside "
            'the plainnet SSD300 training step; median of %d alternating rounds.'
            % args.rounds, '',
            '| imported first | img/s (rounds) |', '|---|---|',
            '| ssd_zoo (its thread settings) | %.1f (%s) |'
            % (ours, ', '.join('%.1f' % r for r in rates['ssd_zoo'])),
            '| mxnet (MXNet\'s defaults) | %.1f (%s) |'
            % (theirs, ', '.join('%.1f' % r for r in rates['mxnet'])), '',
            'ssd_zoo / MXNet defaults: **%.2f**' % (ours / theirs), ''])
        return 0
    if not os.path.isfile(args.gluoncv_script):
        raise FileNotFoundError('--gluoncv-script %s is missing: give the path of GluonCV\'s '
                                'scripts/detection/ssd/train_ssd.py' % args.gluoncv_script)
    if args.inner:
        run_gluoncv_script(args.gluoncv_script, args.root, args.network, args.data_shape,
                           args.epochs, args.batch_size, args.work)
        return 0
    return compare_trainings(args)


def compare_trainings(args):
    with tempfile.TemporaryDirectory() as work:
        root = os.path.join(work, 'shapes')
        generate_shapes(os.path.join(root, 'VOC2007'), ShapesSpec(
            num_train=args.images, num_val=args.images // 4, image_size=args.data_shape))
        common = ['--network', args.network, '--data-shape', str(args.data_shape),
                  '--epochs', str(args.epochs), '--batch-size', str(args.batch_size)]
        gluoncv_s, gluoncv_log = timed(
            [sys.executable, __file__, 'train', '--inner', '--gluoncv-script',
             args.gluoncv_script, '--root', root, '--work', work] + common,
            os.path.join(work, 'gluoncv.log'))
        ours_s, _ = timed(
            [sys.executable, os.path.join(os.path.dirname(__file__), 'train_ssd.py'),
             '--dataset', 'custom', '--dataset-root', os.path.join(root, 'VOC2007'),
             '--optimizer', 'sgd', '--augment', 'full', '--lr-mode', 'step', '--warmup-epochs',
             '0', '--save-prefix', os.path.join(work, 'ours'), '--metric', 'voc07']
            + common + RECIPE, os.path.join(work, 'ours.log'))
        with open(os.path.join(work, 'ours', 'metrics.csv')) as f:
            ours_maps = [float(row['map']) for row in csv.DictReader(f) if row['map']]
    gluoncv_maps = [float(m) for m in re.findall(r'mAP=([0-9.]+)', gluoncv_log)]
    images = args.images * args.epochs
    write_lines(args.out, [
        "# GluonCV's train_ssd.py on ssd_zoo's zoo", '',
        machine_line() + ' `python scripts/gluoncv_drop_in.py train --gluoncv-script '
        '.../train_ssd.py`: ssd_300_%s_custom, %d training / %d validation shapes images at '
        "%d px, %d epochs, batch %d, SGD lr 1e-3 (GluonCV's recipe and full augmentation in "
        'both).' % (args.network, args.images, args.images // 4, args.data_shape,
                    args.epochs, args.batch_size), '',
        '| training | VOC07 mAP per epoch | wall time (s, with validation) | img/s |',
        '|---|---|---|---|',
        "| GluonCV's train_ssd.py, get_model swapped | %s | %.0f | %.1f |"
        % (', '.join('%.4f' % m for m in gluoncv_maps) or '-', gluoncv_s, images / gluoncv_s),
        "| ssd_zoo's train_ssd.py | %s | %.0f | %.1f |"
        % (', '.join('%.4f' % m for m in ours_maps) or '-', ours_s, images / ours_s), ''])
    return 0


def machine_line() -> str:
    info = describe()
    return 'Machine: %s, oneDNN %s, %d MXNet threads.' % (cpu_model(), info['onednn_isa'],
                                                         info['threads'])


def write_lines(path, lines):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))


if __name__ == '__main__':
    run(main)
