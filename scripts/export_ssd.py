#!/usr/bin/env python
"""Export a detector for deployment: MXNet symbol JSON + params, or ONNX (+ PREFIX-model.json).

    python scripts/export_ssd.py --checkpoint runs/main/best --out runs/main/export/ssd
    python scripts/export_ssd.py --checkpoint runs/main/best --out model/ssd --fixed-size \\
        --preprocess                       # anchors stored, uint8 (B, H, W, 3) RGB input
    python scripts/export_ssd.py --checkpoint runs/main/best --format onnx --out model/ssd
    python scripts/export_ssd.py --model ssd_512_resnet50_v1_voc --root ~/.mxnet/models --out m

Symbol exports reload with ``ssd_zoo.export.import_block`` (Gluon) or ``import_module``
(Module); ONNX files run with onnxruntime (``ssd_zoo.onnx_export.OnnxDetector``). Every export
is reloaded and run once before the script reports success.
"""
import argparse

import mxnet as mx
from _common import add_model_flags, context, load, run

from ssd_zoo.decode import MODES
from ssd_zoo.export import export_model, import_block
from ssd_zoo.loading import NORMALIZED_INPUT, UINT8_INPUT, write_model_info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(p)
    p.add_argument('--out', required=True, help='output prefix (ONNX: PREFIX.onnx)')
    p.add_argument('--format', choices=('symbol', 'onnx'), default='symbol')
    p.add_argument('--data-shape', type=int, default=None, help='side traced (default: base)')
    p.add_argument('--batch-size', type=int, default=1, help='batch traced')
    p.add_argument('--fixed-size', action='store_true',
                   help='symbol: store the anchors of --data-shape (faster; only that size)')
    p.add_argument('--preprocess', action='store_true',
                   help='symbol: take uint8 (B, H, W, 3) RGB images, normalize in the graph')
    p.add_argument('--fixed-batch', action='store_true',
                   help='onnx: the batch dimension is --batch-size (default: dynamic)')
    p.add_argument('--nms-mode', choices=MODES, default=None,
                   help='decoding exported (default: the model\'s, multibox)')
    args = p.parse_args(argv)
    if args.format == 'onnx' and args.preprocess:
        p.error('--preprocess applies to symbol exports')
    det = load(args)
    if args.nms_mode:
        det.net.set_nms(**dict(det.net.nms_settings, mode=args.nms_mode))
    side = args.data_shape or det.data_shape
    shape = (args.batch_size, 3, side, side)
    x = mx.nd.zeros(shape, ctx=context(args))
    if args.format == 'onnx':
        from ssd_zoo.onnx_export import OnnxDetector, export_onnx
        path = export_onnx(det.net, args.out + '.onnx', shape,
                           dynamic_batch=not args.fixed_batch)
        OnnxDetector(path)(x)  # the export must run
        write_model_info(args.out, det.network, side, det.classes)
        print('exported %s (%s decoding)' % (path, det.net.nms_settings['mode']))
        return 0
    symbol_file, params_file = export_model(det.net, args.out, shape, ctx=context(args),
                                            fixed_size=args.fixed_size,
                                            preprocess=args.preprocess)
    write_model_info(args.out, det.network, side, det.classes,
                     UINT8_INPUT if args.preprocess else NORMALIZED_INPUT,
                     fixed_size=args.fixed_size)
    if args.preprocess:
        x = x.transpose((0, 2, 3, 1)).astype('uint8')
    import_block(args.out, ctx=context(args))(x)  # the export must reload and run
    print('exported %s and %s' % (symbol_file, params_file))
    return 0


if __name__ == '__main__':
    run(main)
