#!/usr/bin/env python
"""Benchmarks that compare ssd_zoo with the reference measured in the same run.

    python scripts/benchmark_ssd.py inference [--models ...] [--batch-sizes 1 8]

``inference``: images/s of hybridized FP32 ssd_zoo (``multibox`` and ``per_class`` decoding)
and GluonCV on the same preset, batch and weights; runs are interleaved round by round so that
machine noise hits every contender alike. Writes ``benchmarks/inference.md``.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import mxnet as mx

warnings.filterwarnings('ignore', message='Cannot decide type')

DEFAULT_MODELS = ('ssd_300_vgg16_atrous_voc', 'ssd_512_resnet50_v1_voc',
                  'ssd_512_mobilenet1.0_voc')


def build_contenders(name, batch):
    """name -> callable running one batch, all with the same random weights."""
    import gluoncv

    import ssd_zoo
    from ssd_zoo.zoo import lookup
    size = lookup(name)[0].base_size
    x = mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size))
    reference = gluoncv.model_zoo.get_model(name, pretrained_base=False)
    reference.initialize()
    reference(x)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'w.params')
        reference.save_parameters(path)
        ours = {mode: ssd_zoo.get_model(name, pretrained=path) for mode in ('multibox',
                                                                             'per_class')}
    contenders = {'gluoncv': reference}
    for mode, net in ours.items():
        net.set_nms(mode=mode)
        contenders['ssd_zoo ' + mode] = net
    for net in contenders.values():
        net.hybridize(static_alloc=True, static_shape=True)
        mx.nd.waitall()
        [o.wait_to_read() for o in net(x)]  # trace and warm up
    return contenders, x


def time_once(net, x):
    start = time.perf_counter()
    outputs = net(x)
    for out in outputs:
        out.wait_to_read()
    return time.perf_counter() - start


def bench_inference(models, batch_sizes, rounds, out_path):
    rows = []
    for name in models:
        for batch in batch_sizes:
            contenders, x = build_contenders(name, batch)
            times = {k: [] for k in contenders}
            for _ in range(rounds):
                for key, net in contenders.items():
                    times[key].append(time_once(net, x))
            median = {k: statistics.median(v) for k, v in times.items()}
            ips = {k: batch / t for k, t in median.items()}
            rows.append((name, batch, ips))
            print('%-28s batch %d: %s' % (name, batch, ', '.join(
                '%s %.2f img/s' % (k, v) for k, v in ips.items())), flush=True)
    write_inference_report(rows, rounds, out_path)


def write_inference_report(rows, rounds, out_path):
    lines = [
        '# Inference speed: ssd_zoo vs GluonCV (FP32, hybridized)', '',
        'Written by `python scripts/benchmark_ssd.py inference` (%s, mxnet %s, %d CPU cores, '
        'Python %s). Same preset, batch and weights; median of %d interleaved rounds.'
        % (time.strftime('%Y-%m-%d'), mx.__version__, os.cpu_count(),
           platform.python_version(), rounds), '',
        '| model | batch | GluonCV img/s | ssd_zoo multibox img/s | ratio | '
        'ssd_zoo per_class img/s | ratio |',
        '|---|---|---|---|---|---|---|']
    for name, batch, ips in rows:
        ref = ips['gluoncv']
        lines.append('| %s | %d | %.2f | %.2f | %.3f | %.2f | %.3f |' % (
            name, batch, ref, ips['ssd_zoo multibox'], ips['ssd_zoo multibox'] / ref,
            ips['ssd_zoo per_class'], ips['ssd_zoo per_class'] / ref))
    lines += ['', '`multibox` decodes with MXNet\'s `MultiBoxDetection` (one class per anchor); '
              '`per_class` reproduces GluonCV\'s per-class `box_nms` decoding exactly.', '']
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines))
    print('wrote', out_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    inf = sub.add_parser('inference', help='FP32 img/s of ssd_zoo vs GluonCV')
    inf.add_argument('--models', nargs='+', default=list(DEFAULT_MODELS))
    inf.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 8])
    inf.add_argument('--rounds', type=int, default=7)
    inf.add_argument('--out', default=os.path.join('benchmarks', 'inference.md'))
    args = parser.parse_args(argv)
    if args.command == 'inference':
        bench_inference(args.models, args.batch_sizes, args.rounds, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
