"""Flags shared by the evaluation, demo and export scripts: where the model comes from."""
import argparse

import mxnet as mx


def add_model_flags(parser: argparse.ArgumentParser, onnx: bool = False) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--checkpoint', help='training checkpoint prefix, e.g. runs/x/best')
    src.add_argument('--symbol', help='exported model prefix (PREFIX-symbol.json)')
    src.add_argument('--model', help='zoo name; weights from --root')
    if onnx:
        src.add_argument('--onnx', help='exported .onnx file (run with onnxruntime)')
    parser.add_argument('--root', default=None, help='folder of zoo weights')
    parser.add_argument('--gpu', type=int, default=None, help='GPU id (default: CPU)')


def load(args):
    """The :class:`ssd_zoo.loading.Detector` the model flags name."""
    from ssd_zoo.loading import load_detector
    return load_detector(args.checkpoint, args.symbol, args.model, args.root, context(args),
                         onnx=getattr(args, 'onnx', None))


def context(args):
    return mx.gpu(args.gpu) if args.gpu is not None else mx.cpu()


def run(main):
    """Run a script's ``main``; bad flags, files or data end with a one-line message."""
    import os
    import sys
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as err:
        sys.exit('%s: %s' % (os.path.basename(sys.argv[0]), err))
