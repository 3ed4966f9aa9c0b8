#!/usr/bin/env python
"""Evaluate a detector: VOC07 11-point mAP, VOC area mAP, COCO AP, per-class AP, PR curves.

    python scripts/eval_ssd.py --checkpoint runs/main/best
    python scripts/eval_ssd.py --symbol runs/main/export/ssd_300_plainnet_shapes \
        --metrics voc07 coco
    python scripts/eval_ssd.py --symbol runs/main/export/ssd_300_plainnet_shapes_int8
    python scripts/eval_ssd.py --onnx runs/main/export/ssd_300_plainnet_shapes.onnx

Every export of export_ssd.py and quantize_ssd.py loads as it is (its PREFIX-model.json
says the classes, the input size and the input format).
"""
import json
import os

from tqdm import tqdm

from ssd_zoo.cli.common import add_model_flags, device, load_model, run, script_parser
from ssd_zoo.data import DATASETS, ValTransform, build_datasets, make_loader
from ssd_zoo.evaluation import METRICS, evaluate, per_class_table
from ssd_zoo.viz import plot_pr_curves


def main(argv=None):
    p = script_parser(__doc__)
    add_model_flags(p, onnx=True)
    p.add_argument('--dataset', choices=DATASETS, default='shapes')
    p.add_argument('--dataset-root', default=None)
    p.add_argument('--metrics', nargs='+', choices=METRICS, default=['voc07', 'voc'])
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--num-workers', type=int, default=1)
    p.add_argument('--out', default=None, help='folder for the PR-curve PNG and results JSON')
    p.add_argument('--strict-data', action='store_true',
                   help='stop at a box without area or an unreadable image')
    args = p.parse_args(argv)
    det = load_model(args)
    _, val = build_datasets(args.dataset, args.dataset_root, det.classes,
                            strict=args.strict_data)
    loader, _ = make_loader(val, ValTransform(det.data_shape), args.batch_size, shuffle=False,
                            num_workers=args.num_workers, drop_last=False)
    result = evaluate(det, loader, det.classes, args.metrics, device(args),
                      progress=lambda it: tqdm(it, desc='evaluating', leave=False))
    print('%s on %d %s validation images (%.1f img/s)'
          % (det.source, result['images'], args.dataset, result['img_per_s']))
    print(per_class_table(result, args.metrics))
    out = args.out or (os.path.dirname(det.source) or '.')
    os.makedirs(out, exist_ok=True)
    png = plot_pr_curves(result['detections'], det.classes, os.path.join(out, 'pr_curves.png'))
    summary = {m: result[m] for m in args.metrics}
    summary.update(images=result['images'], img_per_s=result['img_per_s'], source=det.source)
    with open(os.path.join(out, 'eval.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print('PR curves: %s; results: %s' % (png, os.path.join(out, 'eval.json')))
    return 0


if __name__ == '__main__':
    run(main)
