#!/usr/bin/env python
"""Convert a detector to INT8 (calibrated post-training quantization) or BF16 for CPU inference.

    python scripts/quantize_ssd.py --checkpoint runs/main/best --out runs/main/export/ssd_int8
    python scripts/quantize_ssd.py --checkpoint runs/main/best --calib-mode entropy \\
        --num-calib-images 64 --eval --out model/ssd_int8
    python scripts/quantize_ssd.py --checkpoint runs/main/best --dtype bf16 --out model/ssd_bf16

Calibration images come from the training split of --dataset (real images: random ones give
useless ranges). The backbone, extra layers and predictors are converted; the layers after the
predictors stay FP32 and are listed. The result is a symbol export for one input size
(``--data-shape``, ``--batch-size``) that ``eval_ssd.py --symbol`` and ``demo_ssd.py --symbol``
load; ``--eval`` compares its mAP with the FP32 model's on the validation split.
"""
import argparse

import mxnet as mx
from _common import add_model_flags, context, load, run
from tqdm import tqdm

from ssd_zoo.data import DATASETS, ValTransform, build_datasets, make_loader
from ssd_zoo.data.transforms import normalize_batch
from ssd_zoo.evaluation import evaluate
from ssd_zoo.export import import_block
from ssd_zoo.loading import write_model_info
from ssd_zoo.quantize import (
    BF16_UNAVAILABLE,
    CALIB_MODES,
    bf16_supported,
    quantize_int8,
    to_bfloat16,
)


def calibration_images(dataset, side, count, ctx):
    """The first ``count`` training images, resized and normalized as for inference."""
    loader, _ = make_loader(dataset, ValTransform(side), 16, shuffle=False, drop_last=False)
    batches, seen = [], 0
    for images, _ in loader:
        if seen >= count:
            break
        images = images[:count - seen]
        batches.append(normalize_batch(mx.nd.array(images, dtype='uint8', ctx=ctx)))
        seen += len(images)
    return batches


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(p)
    p.add_argument('--out', required=True, help='output prefix')
    p.add_argument('--dtype', choices=('int8', 'bf16'), default='int8')
    p.add_argument('--dataset', choices=DATASETS, default='shapes')
    p.add_argument('--dataset-root', default=None)
    p.add_argument('--num-calib-images', type=int, default=32)
    p.add_argument('--calib-mode', choices=CALIB_MODES, default='naive')
    p.add_argument('--data-shape', type=int, default=None, help='input side (default: base)')
    p.add_argument('--batch-size', type=int, default=1, help='batch of the converted model')
    p.add_argument('--eval', action='store_true', help='mAP (VOC07) of FP32 and converted')
    args = p.parse_args(argv)
    if args.dtype == 'bf16' and not bf16_supported():
        p.error(BF16_UNAVAILABLE + '; use --dtype int8')
    det = load(args)
    side = args.data_shape or det.data_shape
    shape = (args.batch_size, 3, side, side)
    train, val = build_datasets(args.dataset, args.dataset_root, det.classes)
    if args.dtype == 'int8':
        calib = calibration_images(train, side, args.num_calib_images, context(args))
        converted = quantize_int8(det.net, calib, shape, args.calib_mode)
    else:
        converted = to_bfloat16(det.net, shape)
    print('%s: %s' % (args.dtype.upper(), converted.summary()))
    symbol_file, params_file = converted.export(args.out)
    write_model_info(args.out, det.network, side, det.classes, precision=args.dtype)
    reloaded = import_block(args.out, ctx=context(args))
    reloaded(mx.nd.zeros(shape, ctx=context(args)))  # the export must reload and run
    print('exported %s and %s' % (symbol_file, params_file))
    if args.eval:
        loader, _ = make_loader(val, ValTransform(side), args.batch_size, shuffle=False,
                                drop_last=True)
        for label, net in (('FP32', det.net), (args.dtype.upper(), converted.net)):
            result = evaluate(net, loader, det.classes, ('voc07',), context(args),
                              progress=lambda it: tqdm(it, desc=label, leave=False))
            print('%s: VOC07 mAP %.4f on %d images (%.1f img/s)'
                  % (label, result['voc07']['mAP'], result['images'], result['img_per_s']))
    return 0


if __name__ == '__main__':
    run(main)
