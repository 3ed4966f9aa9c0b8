#!/usr/bin/env python
"""Turn a Module training checkpoint of a legacy SSD symbol into an inference model.

    python scripts/deploy.py --prefix runs/module/ssd --epoch 10
    # -> runs/module/ssd_deploy-symbol.json + runs/module/ssd_deploy-0010.params

The result takes ``data`` (mean-subtracted pixels, B x 3 x H x W) and returns detections
``(B, N, 6)`` rows ``[id, score, xmin, ymin, xmax, ymax]`` (normalized; id -1 for none), and
loads with ``mx.mod.Module`` or ``gluon.SymbolBlock.imports``.
"""
import os

from ssd_zoo.cli.options import run, script_parser
from ssd_zoo.symbol.deploy import deploy_checkpoint


def main(argv=None):
    p = script_parser(__doc__)
    p.add_argument('--prefix', required=True, help='training checkpoint prefix')
    p.add_argument('--epoch', type=int, required=True)
    p.add_argument('--out', default=None, help='output prefix (default PREFIX_deploy)')
    p.add_argument('--nms', dest='nms_thresh', type=float, default=None,
                   help='NMS IoU threshold (default: the training graph\'s)')
    p.add_argument('--force-suppress', action='store_true', default=None,
                   help='suppress across classes')
    p.add_argument('--nms-topk', type=int, default=None)
    args = p.parse_args(argv)
    for path in ('%s-symbol.json' % args.prefix, '%s-%04d.params' % (args.prefix, args.epoch)):
        if not os.path.isfile(path):
            raise FileNotFoundError('%s is missing: --prefix and --epoch name a Module '
                                    'checkpoint PREFIX-symbol.json + PREFIX-%%04d.params '
                                    '(mod.save_checkpoint(PREFIX, EPOCH))' % path)
    out = deploy_checkpoint(args.prefix, args.epoch, args.out, nms_thresh=args.nms_thresh,
                            force_suppress=args.force_suppress, nms_topk=args.nms_topk)
    print('wrote %s-symbol.json and %s-%04d.params' % (out, out, args.epoch))
    return 0


if __name__ == '__main__':
    run(main)
