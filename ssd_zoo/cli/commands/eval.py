"""Evaluate a detector: VOC07 11-point mAP, VOC area mAP, COCO AP, per-class AP, PR curves.

    ssd-zoo eval --checkpoint runs/main/best
    ssd-zoo eval --symbol runs/main/export/ssd_300_plainnet_shapes \
        --metrics voc07 coco
    ssd-zoo eval --symbol runs/main/export/ssd_300_plainnet_shapes_int8
    ssd-zoo eval --onnx runs/main/export/ssd_300_plainnet_shapes.onnx

Every export of export_ssd.py and quantize_ssd.py loads as it is (its PREFIX-model.json
says the classes, the input size and the input format).
"""
import json
import os

from tqdm import tqdm

from ssd_zoo.cli.datasets import add_dataset_flags, model_dataset
from ssd_zoo.cli.options import (
    add_model_flags,
    add_resize_flags,
    bounded,
    device,
    load_model,
    resize_description,
    resize_options,
    script_parser,
)
from ssd_zoo.data import make_loader
from ssd_zoo.evaluation import METRICS, evaluate, per_class_table
from ssd_zoo.viz import plot_pr_curves


def main(argv=None):
    p = script_parser(__doc__)
    add_model_flags(p, onnx=True)
    add_dataset_flags(p)
    add_resize_flags(p)
    p.add_argument('--metrics', nargs='+', choices=METRICS, default=['voc07', 'voc'])
    p.add_argument('--batch-size', type=bounded(int, 1), default=16)
    p.add_argument('--num-workers', type=bounded(int, 0), default=1)
    p.add_argument('--out', default=None, help='folder for the PR-curve PNG and results JSON')
    args = p.parse_args(argv)
    det = load_model(args)
    resize = resize_options(args, det)
    val, class_map, where = model_dataset(args, det, 'val')
    loader, _ = make_loader(val, det.input_transform(**resize), args.batch_size, shuffle=False,
                            num_workers=args.num_workers, drop_last=False)
    result = evaluate(det, loader, val.classes, args.metrics, device(args),
                      progress=lambda it: tqdm(it, desc='evaluating', leave=False),
                      class_map=class_map)
    print('%s on %d validation images of %s, %s (%.1f img/s)'
          % (det.source, result['images'], where, resize_description(det, resize),
             result['img_per_s']))
    print(per_class_table(result, args.metrics))
    out = args.out or (os.path.dirname(det.source) or '.')
    os.makedirs(out, exist_ok=True)
    png = plot_pr_curves(result['detections'], val.classes, os.path.join(out, 'pr_curves.png'))
    summary = {m: result[m] for m in args.metrics}
    summary.update(resize=resize_description(det, resize), images=result['images'],
                   img_per_s=result['img_per_s'], source=det.source)
    with open(os.path.join(out, 'eval.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print('PR curves: %s; results: %s' % (png, os.path.join(out, 'eval.json')))
    return 0
