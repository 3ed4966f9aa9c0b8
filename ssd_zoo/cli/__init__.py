"""The ``ssd-zoo`` command: look inside backbones and models, and at this machine.

    ssd-zoo list [PATTERN] [--table [--markdown] [--write]]
    ssd-zoo inspect resnet101_v1 --size 512 [--all]
    ssd-zoo anchors ssd_300_vgg16_atrous_voc [--size 300 | --size 384x512] [--out a.png]
    ssd-zoo info
    ssd-zoo check-data --dataset voc --dataset-root ~/VOCdevkit [--model NAME] [--suggest-sizes]
    ssd-zoo train | eval | demo | export | quantize | benchmark ...   (``--help`` for each)

The package :mod:`ssd_zoo.cli` is also the layer the scripts share (:mod:`.options`,
:mod:`.training`).
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .options import KNOWN_ERRORS, bounded, one_line


def _size(text: str):
    if 'x' in text:
        height, width = text.lower().split('x')
        return int(height), int(width)
    return int(text), int(text)


def cmd_list(args) -> int:
    from ..model.zoo import list_models
    if args.table:
        return _print_table(args)
    names = list_models(args.pattern)
    if not names:
        raise ValueError('no zoo model name contains %r (a part such as resnet50, 512 or voc, '
                         'or a glob such as "ssd_300_*_voc"); `ssd-zoo list` lists all %d'
                         % (args.pattern, len(list_models())))
    for name in names:
        print(name)
    return 0


def _print_table(args) -> int:
    from tqdm import tqdm

    from ..model.zoo import list_models
    from .zoo_table import format_table, read_results, write_results
    rows = write_results(progress=lambda n: tqdm(n, desc='measuring')) if args.write \
        else read_results()
    wanted = set(list_models(args.pattern))
    print(format_table([r for r in rows if r['model'] in wanted], markdown=args.markdown))
    return 0


def cmd_inspect(args) -> int:
    from ..backbones.discovery import inspect_backbone
    table = inspect_backbone(args.backbone, args.size)
    if not args.all:
        from ..backbones.discovery import BackboneTable
        table = BackboneTable(table.last_of_each_stride(), table.network, table.size)
        print('(the last output of each stride; --all lists every candidate)')
    print(table)
    return 0


def anchor_report(net, height: int, width: int):
    """Lines of per-head feature size, anchors per cell and totals, and the total."""
    from ..model.anchors import anchors_per_head
    heads = anchors_per_head(net, height, width)
    lines = ['%-5s %9s %9s %8s' % ('head', 'map', 'per cell', 'anchors')]
    total = 0
    for k, (anchors, (rows, cols), per_cell) in enumerate(heads):
        lines.append('%-5d %9s %9d %8d' % (k, '%dx%d' % (rows, cols), per_cell, len(anchors)))
        total += len(anchors)
    lines.append('total %28d' % total)
    return lines, total


def cmd_anchors(args) -> int:
    import ssd_zoo

    from ..model.zoo import lookup
    _, dataset = lookup(args.model)
    net = ssd_zoo.get_model(args.model, pretrained_base=False,
                            classes=['object'] if dataset == 'custom' else None)
    net.initialize()
    height, width = _size(args.size) if args.size else (net.base_size, net.base_size)
    smallest = net.min_input_size()
    if min(height, width) < smallest:
        raise ValueError('--size %s: %s needs at least %d pixels a side (below that its last '
                         'heads get no feature map)' % (args.size, args.model, smallest))
    heads = len(net.anchor_generators)
    if args.out and not 0 <= args.layer < heads:
        raise ValueError('--layer %d: %s has %d heads, numbered 0 to %d'
                         % (args.layer, args.model, heads, heads - 1))
    lines, _ = anchor_report(net, height, width)
    print('%s at %dx%d (HxW)' % (args.model, height, width))
    print('\n'.join(lines))
    if args.out:
        from ..viz import draw_anchors
        ax = draw_anchors(net, args.layer, size=(height, width))
        ax.figure.savefig(args.out, dpi=100)
        print('anchors of the centre cell of head %d drawn in %s' % (args.layer, args.out))
    return 0


def cmd_info(args) -> int:
    from ..data import jpeg
    from ..runtime import describe
    info = describe()
    print('mxnet %s; build features: %s' % (info['mxnet'], ', '.join(info['features'])))
    print('CPU: %s; oneDNN ISA: %s' % (info['cpu'], info['onednn_isa']))
    print('threads: %d (%s); OpenMP wait policy: %s' % (info['threads'], info['threads_reason'],
                                                        info['wait_policy']))
    print('JPEG decoding: %s' % jpeg.decoder())
    return 0


#: the scripts' commands (``scripts/<name>_ssd.py`` runs the same): name -> (module, help)
SCRIPT_COMMANDS = {
    'train': ('train', 'train an SSD (any zoo model, backbone or legacy network)'),
    'eval': ('eval', 'evaluate a checkpoint, export or zoo model (VOC07, VOC, COCO)'),
    'demo': ('demo', 'detect objects in images and draw them'),
    'export': ('export', 'export to symbol JSON (any size, fixed size, uint8 input) or ONNX'),
    'quantize': ('quantize', 'INT8 or BF16 for oneDNN, calibrated on images'),
    'benchmark': ('benchmark', 'speed against the reference measured in the same run'),
}


def _run_script_command(name: str, argv) -> int:
    import importlib

    from .options import run
    module = importlib.import_module('.commands.' + SCRIPT_COMMANDS[name][0], __name__)
    sys.argv[0] = 'ssd-zoo %s' % name  # the command's name starts its messages
    try:
        run(module.main, argv)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    return 0


def main(argv=None) -> int:
    warnings.filterwarnings('ignore', message='Cannot decide type')
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SCRIPT_COMMANDS:
        return _run_script_command(argv[0], argv[1:])
    parser = argparse.ArgumentParser(prog='ssd-zoo', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('list', help='zoo model names (--table: anchors, parameters, GFLOPs)')
    p.add_argument('pattern', nargs='?')
    p.add_argument('--table', action='store_true',
                   help='per model: input, anchors, parameters, GFLOPs, published accuracy')
    p.add_argument('--markdown', action='store_true', help='the table in Markdown')
    p.add_argument('--write', action='store_true',
                   help='measure every model again and write benchmarks/results.yml')
    p.set_defaults(run=cmd_list)
    p = sub.add_parser('inspect', help='candidate feature layers of a backbone, by stride')
    p.add_argument('backbone')
    p.add_argument('--size', type=bounded(int, 16), default=512)
    p.add_argument('--all', action='store_true', help='every candidate, not only the last')
    p.set_defaults(run=cmd_inspect)
    p = sub.add_parser('anchors', help='anchor counts per head; draw them')
    p.add_argument('model')
    p.add_argument('--size', default=None, help='S or HxW (default: the base size)')
    p.add_argument('--layer', type=bounded(int, 0), default=0, help='head drawn with --out')
    p.add_argument('--out', default=None, help='PNG of the anchors of the centre cell')
    p.set_defaults(run=cmd_anchors)
    p = sub.add_parser('info', help='mxnet build, CPU, oneDNN ISA, threads and why')
    p.set_defaults(run=cmd_info)
    from .check_data import add_parser
    add_parser(sub)
    for name, (_, text) in SCRIPT_COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)  # parsed by the command itself
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KNOWN_ERRORS as err:
        print('ssd-zoo: %s' % one_line(err), file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
