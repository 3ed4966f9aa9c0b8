#!/usr/bin/env python
"""Export a detector to PREFIX-symbol.json + PREFIX-0000.params (+ PREFIX-model.json).

    python scripts/export_ssd.py --checkpoint runs/main/best --out runs/main/export/ssd
    python scripts/export_ssd.py --model ssd_512_resnet50_v1_voc --root ~/.mxnet/models --out m
"""
import argparse

from _common import add_model_flags, context, run

from ssd_zoo.export import export_model, import_block
from ssd_zoo.loading import load_detector, write_model_info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(p)
    p.add_argument('--out', required=True, help='output prefix')
    p.add_argument('--data-shape', type=int, default=None, help='side traced (default: base)')
    args = p.parse_args(argv)
    det = load_detector(args.checkpoint, args.symbol, args.model, args.root, context(args))
    side = args.data_shape or det.data_shape
    symbol_file, params_file = export_model(det.net, args.out, (1, 3, side, side),
                                            ctx=context(args))
    write_model_info(args.out, det.network, side, det.classes)
    import_block(args.out, ctx=context(args))  # the export must reload
    print('exported %s and %s' % (symbol_file, params_file))
    return 0


if __name__ == '__main__':
    run(main)
