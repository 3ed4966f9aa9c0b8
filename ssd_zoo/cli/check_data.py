"""``ssd-zoo check-data``: the dataset report and the anchor coverage of a model."""
from __future__ import annotations

from typing import List

import mxnet as mx
from tqdm import tqdm

from ..data import DATASETS, build_datasets
from ..data.check import (
    anchor_coverage,
    box_statistics,
    class_counts,
    decode_all,
    duplicates,
    percentiles,
    suggest_scale,
)
from ..model.anchors import corner_anchors
from ..model.zoo import get_model, lookup, model_for_network
from .options import bounded

__all__ = ['add_parser', 'check_data']


def add_parser(sub) -> None:
    p = sub.add_parser('check-data', help='read every annotation and image; anchor coverage',
                       description='Exit status 1 when images are unreadable or annotations '
                                   'malformed (each is named), else 0.')
    p.add_argument('--dataset', choices=DATASETS, default='shapes')
    p.add_argument('--dataset-root', default=None)
    p.add_argument('--classes', default=None, help='comma-separated class names (rec/custom)')
    model = p.add_mutually_exclusive_group()
    model.add_argument('--model', help='zoo name whose anchors are measured')
    model.add_argument('--network', help='a --network of train_ssd.py (with --data-shape)')
    p.add_argument('--data-shape', type=bounded(int, 16), default=300)
    p.add_argument('--workers', type=bounded(int, 1), default=2, help='processes decoding images')
    p.add_argument('--suggest-sizes', action='store_true',
                   help='the anchor-size scale that covers the most boxes, and its gain')
    p.add_argument('--plot', default=None, help='PNG of box sizes, shapes and coverage')
    p.set_defaults(run=check_data)


def _model_anchors(args, classes) -> tuple:
    if args.model:
        _, dataset = lookup(args.model)
        net = get_model(args.model, pretrained_base=False,
                        classes=classes if dataset == 'custom' else None)
        name = args.model
    else:
        net = model_for_network(args.network, args.data_shape, classes, pretrained_base=False)
        name = '%s at %d' % (args.network, args.data_shape)
    net.initialize()
    side = net.base_size
    with mx.autograd.train_mode():
        anchors = net(mx.nd.zeros((1, 3, side, side)))[2]
    return name, side, corner_anchors(anchors.asnumpy()[0], side, side)


def _split_report(name, dataset, labels, checks) -> List[str]:
    counts = class_counts(labels, dataset.classes)
    lines = ['%s: %d images, %d objects (%s); %d images without objects'
             % (name, len(dataset), sum(counts.values()),
                ', '.join('%s %d' % kv for kv in counts.items()),
                sum(1 for label in labels if not len(label)))]
    for what, count in sorted(dataset.report.items()):
        if what != 'images without objects':
            lines.append('  %d %s' % (count, what))
    lines += ['  box without area dropped: %s' % where for where in dataset.dropped]
    lines += ['  unreadable image: %s (%s)' % (c.path, c.error) for c in checks if c.error]
    return lines


def check_data(args) -> int:
    """Print the report; 1 if anything unreadable or malformed was found, else 0."""
    problems: List[str] = []
    classes = args.classes.split(',') if args.classes else None
    splits = dict(zip(('train', 'val'), build_datasets(args.dataset, args.dataset_root, classes,
                                                       errors=problems)))
    checks = {name: decode_all([d.image_path(i) for i in range(len(d))], args.workers,
                               lambda it, **kw: tqdm(it, desc='decoding %s' % name, **kw))
              for name, d in splits.items()}
    boxes = {name: _boxes(d, checks[name]) for name, d in splits.items()}
    for name, dataset in splits.items():
        print('\n'.join(_split_report(name, dataset, boxes[name][0], checks[name])))
    for problem in problems:
        print('malformed annotation: %s' % problem)
    for group in duplicates([c for found in checks.values() for c in found]):
        print('duplicate files: %s' % ', '.join(group))
    labels, sizes, paths = (sum((boxes[n][k] for n in boxes), []) for k in range(3))
    side = args.data_shape
    if args.model or args.network:
        model, side, anchors = _model_anchors(args, splits['train'].classes)
        for name, (split_labels, split_sizes, split_paths) in boxes.items():
            _print_coverage('%s on %s' % (model, name), anchors, split_labels, split_sizes,
                            split_paths, side, splits['train'].classes)
        if args.suggest_sizes:
            _print_suggestion(anchors, labels, sizes, paths, side)
    stats = box_statistics(labels, sizes, side)
    print('box side at %dx%d (sqrt of the area, px): %s' % (side, side,
                                                           percentiles(stats['side'])))
    print('box aspect ratio (width / height): %s' % percentiles(stats['aspect']))
    if args.plot:
        from ..viz import plot_box_statistics
        print('plot: %s' % plot_box_statistics(stats, args.plot))
    unreadable = sum(1 for found in checks.values() for c in found if c.error)
    print('%d unreadable images, %d malformed annotations' % (unreadable, len(problems)))
    return 1 if unreadable or problems else 0


def _boxes(dataset, checks):
    """``(labels, image sizes, paths)`` of a split (sizes from the decoding pass)."""
    return ([dataset.label(i) for i in range(len(dataset))],
            [(c.width, c.height) for c in checks], [c.path for c in checks])


def _print_coverage(model, anchors, labels, sizes, paths, side, classes) -> None:
    coverage = anchor_coverage(anchors, labels, sizes, paths, side)
    print('anchor coverage of %s (%d anchors at %dx%d): %.1f%% of %d boxes have an anchor '
          'with IoU >= %.1f' % (model, len(anchors), side, side, 100 * coverage.overall,
                                len(coverage.best_iou), coverage.threshold))
    for title, table in (('class', coverage.by_class(classes)), ('size', coverage.by_size())):
        print('  by %s: %s' % (title, ', '.join('%s %.1f%% (%d)' % (k, 100 * v, n)
                                               for k, (v, n) in table.items())))
    for iou, where in coverage.worst(5):
        print('  worst covered: %s, best anchor IoU %.2f' % (where, iou))


def _print_suggestion(anchors, labels, sizes, paths, side) -> None:
    best, results = suggest_scale(anchors, labels, sizes, paths, side)
    print('suggested sizes (method: one factor on every anchor size, grid 0.5-2.0, coverage '
          'of every split at IoU >= 0.5): x%.1f covers %.1f%% (x1.0: %.1f%%, %+.1f points)'
          % (best, 100 * results[best], 100 * results[1.0],
             100 * (results[best] - results[1.0])))

