"""What the scripts and the ``ssd-zoo`` command share: one-line errors, checked numeric flags,
the model-source flags and devices. (Every ``--network`` name, the MXNet example's included,
is in the registry: :mod:`ssd_zoo.model.registry`.)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional

import mxnet as mx

from ..data.base import BadDataError
from ..data.transforms import MAX_SIZE_RATIO
from ..defaults import KEEP_ASPECT
from ..deploy.loading import Detector, load_detector
from ..model.zoo import lookup
from ..train.recipe import TrainingUsageError
from .datasets import class_list

__all__ = ['bounded', 'run', 'one_line', 'UsageError', 'add_resize_flags', 'resize_options',
           'resize_description', 'KNOWN_ERRORS', 'add_model_flags', 'script_parser',
           'converter_parser', 'load_model', 'contexts', 'device']


def bounded(kind, low=None, high=None, above=None):
    """An argparse ``type`` that parses ``kind`` (int or float) and refuses values outside
    ``[low, high]`` (or not ``> above``): argparse then names the flag, the range and the value.

    >>> bounded(float, above=0)('1e-3')
    0.001
    """
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a%s number' % (
                text, 'n integer' if kind is int else '')) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError('%r is not a finite number' % text)
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError('must be above %g, got %s' % (above, text))
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError('must be %s, got %s' % (_range(low, high), text))
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _range(low, high) -> str:
    if high is None:
        return 'at least %g' % low
    if low is None:
        return 'at most %g' % high
    return 'between %g and %g' % (low, high)


class UsageError(ValueError):
    """A flag or a combination of flags that cannot work; exit status 2, as argparse's."""


#: errors a user can cause: bad flags, files or data; each ends the script with one line
KNOWN_ERRORS = (ValueError, OSError, BadDataError, FloatingPointError, RuntimeError,
                mx.base.MXNetError, ImportError)


def run(main: Callable[[Optional[List[str]]], int], argv: Optional[List[str]] = None) -> None:
    """Run a script's ``main(argv)`` and exit with its status.

    A known error ends with ``script: message`` on stderr and status 2 (usage) or 1 (any
    other failure). ``--debug`` anywhere on the command line (or ``SSD_ZOO_DEBUG=1``) shows
    the whole traceback instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = '--debug' in argv or os.environ.get('SSD_ZOO_DEBUG') == '1'
    argv = [a for a in argv if a != '--debug']
    name = os.path.basename(sys.argv[0]) or 'ssd_zoo'
    try:
        status = main(argv)
    except KeyboardInterrupt:
        print('%s: interrupted' % name, file=sys.stderr)
        sys.exit(130)
    except KNOWN_ERRORS as err:
        if debug:
            traceback.print_exc()
        print('%s: %s' % (name, one_line(err)), file=sys.stderr)
        sys.exit(2 if isinstance(err, (UsageError, TrainingUsageError)) else 1)
    sys.exit(status or 0)


@contextmanager
def counting_bar(desc: str, disable: Optional[bool] = None) -> Iterator[Callable[[int, int], None]]:
    """A progress bar driven by ``report(done, total)`` callbacks (the shapes generator's)."""
    from tqdm import tqdm
    with tqdm(total=0, desc=desc, disable=disable) as bar:
        def report(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
        yield report


def one_line(err: BaseException) -> str:
    """An error as one line: MXNet's C++ stack trace dropped, a missing file named."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, mx.base.MXNetError):  # MXNet adds a C++ stack trace around it
        text = next((line for line in text.splitlines() if line.strip() and not
                     line.startswith('Traceback (most recent') and not
                     line.lstrip().startswith('File "')), text)
    if isinstance(err, FileNotFoundError) and err.filename and str(err.filename) not in text:
        text = '%s: %s' % (err.filename, text)
    return ' '.join(text.split())  # one line, whatever the message's own line breaks


def add_model_flags(parser: argparse.ArgumentParser, onnx: bool = False,
                    exports: bool = True) -> None:
    """``--checkpoint | --symbol | --model [| --onnx]``, ``--root``, ``--gpu``.

    ``exports=False`` (the converters): ``--symbol`` is not offered, and refused with the
    reason when given (an export is already the converted graph)."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--checkpoint', help='training checkpoint prefix, e.g. runs/main/best')
    src.add_argument('--symbol', help='exported model prefix (PREFIX-symbol.json): any export '
                                      'of export_ssd.py or quantize_ssd.py'
                     if exports else argparse.SUPPRESS)
    src.add_argument('--model', help='zoo name; weights from --root')
    parser.set_defaults(takes_exports=exports)
    if onnx:
        src.add_argument('--onnx', help='exported .onnx file (run with onnxruntime)')
    parser.add_argument('--root', default=None, help='folder of zoo weights')
    parser.add_argument('--gpu', type=bounded(int, 0), default=None, help='GPU id (default: CPU)')


def add_resize_flags(parser: argparse.ArgumentParser) -> None:
    """``--keep-aspect | --square`` and ``--max-size``: how images meet the network."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--keep-aspect', action='store_true',
                       help='resize to the image\'s own aspect ratio, short side = the model\'s '
                            'data shape (the default%s for models that take any size)'
                            % ('' if KEEP_ASPECT else ' is --square'))
    group.add_argument('--square', action='store_true',
                       help='resize every image to data shape x data shape%s'
                            % (' (the default)' if not KEEP_ASPECT else ''))
    parser.add_argument('--max-size', type=bounded(int, 16), default=None,
                        help='with --keep-aspect: the longest side (default %g x data shape)'
                             % MAX_SIZE_RATIO)


def resize_options(args, det: Detector) -> dict:
    """``detect``/``input_transform`` keywords of the resize flags. Without either flag:
    :data:`ssd_zoo.defaults.KEEP_ASPECT` where the model takes any size, else square."""
    keep = args.keep_aspect or (not args.square and KEEP_ASPECT and not det.fixed_size)
    if keep:
        det.input_transform(True, args.max_size)  # refuses a fixed-size model, naming it
    return {'keep_aspect': bool(keep), 'max_size': args.max_size}


def resize_description(det: Detector, resize: dict) -> str:
    """``'own aspect ratio, short side 300'`` or ``'squared to 300x300'``."""
    if resize['keep_aspect']:
        return 'own aspect ratio, short side %d' % det.data_shape
    return 'squared to %dx%d' % (det.data_shape, det.data_shape)


def script_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser whose help is the script's docstring, as written."""
    return argparse.ArgumentParser(description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def converter_parser(doc: str, out_help: str) -> argparse.ArgumentParser:
    """The parser of the scripts that turn a model into files: the model flags, ``--out``,
    ``--data-shape`` and ``--batch-size``."""
    parser = script_parser(doc)
    add_model_flags(parser, exports=False)
    parser.add_argument('--out', required=True, help=out_help)
    parser.add_argument('--data-shape', type=bounded(int, 16), default=None,
                        help='input side in pixels (default: the model\'s)')
    parser.add_argument('--batch-size', type=bounded(int, 1), default=1, help='batch traced')
    return parser


def device(args) -> mx.Context:
    """The device of ``--gpu`` (the CPU without it)."""
    return contexts(args.gpu if args.gpu is not None else '', 1)[0]


def contexts(gpus: str = '', cpus: int = 1) -> List[mx.Context]:
    """Devices of ``--gpus 0,1`` (checked against this mxnet build), else ``cpus`` CPU
    contexts."""
    ids = [int(i) for i in str(gpus).split(',') if str(i).strip()]
    if not ids:
        return [mx.cpu(i) for i in range(cpus)]
    available = mx.context.num_gpus()
    if max(ids) >= available:
        raise UsageError('--gpus %s: this mxnet build sees %d GPU%s (%s); install a CUDA build '
                         '(make MXNET=mxnet-cu112==1.9.1) or drop --gpus to use the CPU'
                         % (gpus, available, '' if available == 1 else 's',
                            mx.__version__))
    return [mx.gpu(i) for i in ids]




def load_model(args) -> Detector:
    """The :class:`ssd_zoo.deploy.Detector` the model flags name."""
    if args.symbol and not getattr(args, 'takes_exports', True):
        raise UsageError('--symbol %s is already an exported graph: convert the training '
                         'checkpoint (--checkpoint) or zoo model (--model) it came from; the '
                         'export itself ships as it is' % args.symbol)
    classes = None
    if args.model and lookup(args.model)[1] == 'custom':  # its classes: --classes (eval)
        classes = class_list(getattr(args, 'classes', None))
    return load_detector(args.checkpoint, args.symbol, args.model, args.root, device(args),
                         onnx=getattr(args, 'onnx', None), classes=classes)
