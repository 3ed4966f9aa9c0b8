#!/usr/bin/env python
"""The main job (`make run`): train an SSD on the embedded `shapes` data and ship it.

1. generate the shapes dataset (VOC format, 2000 train / 300 val images) if needed;
2. train the ssd_300_plainnet preset from scratch on the CPU (Adam, warmup + cosine);
3. evaluate the best checkpoint (VOC07 11-point mAP, VOC area mAP, per-class AP, PR curves);
4. export it to symbol JSON, reload the export and check it gives the same detections;
5. draw detections on validation images; print and save a summary.

Everything lands in runs/main/ (override with --out).
"""
import argparse
import json
import os
import sys
import time
from functools import partial

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import demo_ssd  # noqa: E402
import train_ssd  # noqa: E402

from ssd_zoo.data import ValTransform, build_datasets, make_loader  # noqa: E402
from ssd_zoo.evaluation import evaluate, per_class_table  # noqa: E402
from ssd_zoo.export import export_model  # noqa: E402
from ssd_zoo.loading import load_detector, write_model_info  # noqa: E402
from ssd_zoo.viz import draw_detections, plot_pr_curves  # noqa: E402


def detection_grid(det, paths, ctx, out_png):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = 3
    rows = -(-len(paths) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows))
    for ax, path in zip(np.ravel(axes), paths):
        image, ids, scores, boxes = demo_ssd.detect(det, path, ctx, 0.5)
        draw_detections(image, boxes, scores, ids, det.classes, thresh=0.5, ax=ax,
                        title=os.path.basename(path))
    for ax in np.ravel(axes)[len(paths):]:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(out_png, dpi=80)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=os.path.join('runs', 'main'))
    p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--skip-training', action='store_true',
                   help='evaluate, export and draw the checkpoint already in --out')
    args = p.parse_args(argv)
    import mxnet as mx
    ctx = mx.cpu()
    start = time.time()

    if not args.skip_training:
        print('== 1-2. data and training')
        train_ssd.main(['--network', 'plainnet', '--data-shape', '300', '--dataset', 'shapes',
                        '--epochs', str(args.epochs), '--seed', str(args.seed),
                        '--save-prefix', args.out, '--save-interval', '0'])
    train_minutes = (time.time() - start) / 60

    print('== 3. evaluation of the best checkpoint')
    det = load_detector(checkpoint=os.path.join(args.out, 'best'), ctx=ctx)
    _, val = build_datasets('shapes', None, det.classes)
    loader, _ = make_loader(val, ValTransform(det.data_shape), 16, shuffle=False,
                            drop_last=False)
    result = evaluate(det.net, loader, det.classes, ('voc07', 'voc'), ctx,
                      progress=partial(tqdm, desc='evaluating', leave=False, disable=None))
    print(per_class_table(result, ('voc07', 'voc')))
    plot_pr_curves(result['detections'], det.classes, os.path.join(args.out, 'pr_curves.png'))

    print('== 4. export and reload')
    prefix = os.path.join(args.out, 'export', 'ssd_300_plainnet_shapes')
    export_model(det.net, prefix, ctx=ctx)
    write_model_info(prefix, det.network, det.data_shape, det.classes)
    exported = load_detector(symbol=prefix, ctx=ctx)
    exported_map = evaluate(exported.net, loader, det.classes, ('voc07',), ctx)['voc07']['mAP']
    print('exported model: %s-symbol.json, VOC07 mAP %.4f (Gluon %.4f)'
          % (prefix, exported_map, result['voc07']['mAP']))

    print('== 5. detections on validation images')
    picture = os.path.join(args.out, 'detections.png')
    detection_grid(exported, [val.image_path(i) for i in range(6)], ctx, picture)

    summary = {'model': 'ssd_300_plainnet_custom (shapes classes)',
               'voc07_map': result['voc07']['mAP'], 'voc_map': result['voc']['mAP'],
               'per_class_voc07': result['voc07']['per_class'],
               'exported_voc07_map': exported_map, 'eval_img_per_s': result['img_per_s'],
               'train_minutes': train_minutes, 'total_minutes': (time.time() - start) / 60,
               'epochs': args.epochs, 'export': prefix, 'detections_png': picture}
    with open(os.path.join(args.out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print('== summary: VOC07 mAP %.4f, VOC mAP %.4f on shapes-val; trained %.1f min, total '
          '%.1f min; results in %s' % (summary['voc07_map'], summary['voc_map'], train_minutes,
                                       summary['total_minutes'], args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
