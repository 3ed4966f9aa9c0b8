"""Convert a detector to INT8 (calibrated post-training quantization) or BF16 for CPU inference.

    ssd-zoo quantize --checkpoint runs/main/best --out runs/main/export/ssd_int8
    ssd-zoo quantize --checkpoint runs/main/best --calib-mode entropy \\
        --num-calib-images 64 --eval --out model/ssd_int8
    ssd-zoo quantize --checkpoint runs/main/best --dtype bf16 --out model/ssd_bf16

Calibration images come from the training split of --dataset (real images: random ones give
useless ranges); without --dataset, a checkpoint's own dataset, else shapes. The dataset's
classes must be the model's (paired by name). The backbone, extra layers and predictors are
converted; the layers after the predictors stay FP32 and are listed. The result is a symbol
export for one input size (``--data-shape``) that ``eval_ssd.py --symbol`` and
``demo_ssd.py --symbol`` load as it is; ``--eval`` compares its mAP with the FP32 model's
on the validation split.
"""
from tqdm import tqdm

from ssd_zoo.cli.datasets import add_dataset_flags, model_dataset
from ssd_zoo.cli.options import UsageError, converter_parser, device, load_model
from ssd_zoo.data import ValTransform, make_loader
from ssd_zoo.deploy import (
    BF16_UNAVAILABLE,
    CALIB_MODES,
    bf16_supported,
    calibration_batches,
    load_detector,
    quantize_int8,
    to_bfloat16,
)
from ssd_zoo.evaluation import evaluate


def main(argv=None):
    p = converter_parser(__doc__, 'output prefix')
    p.add_argument('--dtype', choices=('int8', 'bf16'), default='int8')
    add_dataset_flags(p)
    p.add_argument('--num-calib-images', type=int, default=32)
    p.add_argument('--calib-mode', choices=CALIB_MODES, default='naive')
    p.add_argument('--eval', action='store_true', help='mAP (VOC07) of FP32 and converted')
    args = p.parse_args(argv)
    if args.dtype == 'bf16' and not bf16_supported():
        raise UsageError(BF16_UNAVAILABLE + '; use --dtype int8')
    det = load_model(args)
    side = args.data_shape or det.data_shape
    shape = (args.batch_size, 3, side, side)
    if args.dtype == 'int8':
        train, _, where = model_dataset(args, det, 'train')
        print('calibrating on %d images of %s (training split)'
              % (min(args.num_calib_images, len(train)), where))
        calib = calibration_batches(train, side, args.num_calib_images, device(args),
                                    normalization=det.normalization())
        converted = quantize_int8(det.net, calib, shape, args.calib_mode)
    else:
        converted = to_bfloat16(det.net, shape)
    print('%s: %s' % (args.dtype.upper(), converted.summary()))
    symbol_file, params_file = converted.export(args.out, provenance=det.provenance())
    reloaded = load_detector(symbol=args.out, ctx=device(args))  # must reload and run
    print('exported %s and %s (reload with --symbol %s)' % (symbol_file, params_file, args.out))
    if args.eval:
        val, class_map, _ = model_dataset(args, det, 'val')
        loader, _ = make_loader(val, ValTransform(side), args.batch_size, shuffle=False,
                                drop_last=False)
        for label, model in (('FP32', det), (args.dtype.upper(), reloaded)):
            result = evaluate(model, loader, val.classes, ('voc07',), device(args),
                              progress=lambda it: tqdm(it, desc=label, leave=False),
                              class_map=class_map)
            print('%s: VOC07 mAP %.4f on %d images (%.1f img/s)'
                  % (label, result['voc07']['mAP'], result['images'], result['img_per_s']))
    return 0
