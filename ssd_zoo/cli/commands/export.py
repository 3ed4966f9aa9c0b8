"""Export a detector for deployment: MXNet symbol JSON + params, or ONNX (+ PREFIX-model.json).

    ssd-zoo export --checkpoint runs/main/best --out runs/main/export/ssd
    ssd-zoo export --checkpoint runs/main/best --out model/ssd --fixed-size \\
        --preprocess                       # anchors stored, uint8 (B, H, W, 3) RGB input
    ssd-zoo export --checkpoint runs/main/best --format onnx --out model/ssd
    ssd-zoo export --model ssd_512_resnet50_v1_voc --root ~/.mxnet/models --out m

Every export loads with eval_ssd.py / demo_ssd.py (``--symbol PREFIX`` or ``--onnx
PREFIX.onnx``) and with ``ssd_zoo.deploy.load_detector``; symbol exports also with
``ssd_zoo.deploy.import_block`` (Gluon) or ``load_module`` (Module). Every export is reloaded
and run once before the script reports success. ONNX needs the extra: pip install
'ssd_zoo[onnx]'.
"""
from ssd_zoo.cli.options import UsageError, converter_parser, device, load_model
from ssd_zoo.deploy import export_model, load_detector
from ssd_zoo.model.decode import MODES


def main(argv=None):
    p = converter_parser(__doc__, 'output prefix (ONNX: PREFIX.onnx)')
    p.add_argument('--format', choices=('symbol', 'onnx'), default='symbol')
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
        raise UsageError('--preprocess applies to symbol exports, not --format onnx')
    det = load_model(args)
    if args.nms_mode:
        det.net.set_nms(**dict(det.net.nms_settings, mode=args.nms_mode))
    side = args.data_shape or det.data_shape
    shape = (args.batch_size, 3, side, side)
    if args.format == 'onnx':
        from ssd_zoo.deploy.onnx_export import export_onnx
        path = export_onnx(det.net, args.out + '.onnx', shape, network=det.network,
                           dynamic_batch=not args.fixed_batch, provenance=det.provenance())
        files = [path]
        reloaded = load_detector(onnx=path)
    else:
        files = export_model(det.net, args.out, shape, ctx=device(args),
                             fixed_size=args.fixed_size, preprocess=args.preprocess,
                             network=det.network, provenance=det.provenance())
        reloaded = load_detector(symbol=args.out, ctx=device(args))
    reloaded.detect(_blank(side), ctx=device(args))  # the export must reload and run
    print('exported %s (%s decoding); reload with --%s %s'
          % (' and '.join(files), det.net.nms_settings['mode'], args.format,
             files[0] if args.format == 'onnx' else args.out))
    return 0


def _blank(side):
    import numpy as np
    return np.zeros((side, side, 3), np.uint8)
