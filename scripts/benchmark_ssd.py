#!/usr/bin/env python
"""Benchmarks that compare ssd_zoo with the reference measured in the same run.

    python scripts/benchmark_ssd.py inference [--models ...] [--batch-sizes 1 8]
    python scripts/benchmark_ssd.py pipeline

``inference``: images/s of hybridized FP32 ssd_zoo (``multibox`` and ``per_class`` decoding)
and GluonCV on the same preset, batch and weights; runs are interleaved round by round so that
machine noise hits every contender alike. Writes ``benchmarks/inference.md``.

``pipeline``: training-augmentation images/s on one core of ssd_zoo's ``TrainTransform`` vs
GluonCV's ``SSDDefaultTrainTransform`` (which also builds the targets) on the same decoded
images at 300 and 512, then training-step images/s of the two training loops (augmentation,
targets, forward, backward, update; one process) on the same model and batch. Writes
``benchmarks/pipeline.md``.
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


def shapes_images(count):
    """The first ``count`` validation images of ``shapes``, decoded, with their labels."""
    from ssd_zoo.data import build_datasets
    _, val = build_datasets('shapes')
    return [val[i] for i in range(count)]


def items_per_cpu_second(function, items):
    """Items per second of CPU time (all threads of the process): throughput per core."""
    start = time.process_time()
    for item in items:
        function(item)
    return len(items) / (time.process_time() - start)


def bench_augmentation(samples, sizes):
    """Images per CPU-second of each transform (the whole process's CPU time is counted, so
    MXNet's engine threads working for GluonCV's transform count too)."""
    import gluoncv
    import numpy as np
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform

    from ssd_zoo.data import TrainTransform
    rows = []
    for size in sizes:
        reference_net = gluoncv.model_zoo.get_model('ssd_%d_vgg16_atrous_voc' % size,
                                                    pretrained_base=False)
        reference_net.initialize()
        with mx.autograd.train_mode():
            anchors = reference_net(mx.nd.zeros((1, 3, size, size)))[2]
        gluoncv_tf = SSDDefaultTrainTransform(size, size, anchors)
        ours = TrainTransform(size)
        nd_samples = [(mx.nd.array(image, dtype='uint8'), label[:, :5]) for image, label in
                      samples]
        rng = np.random.default_rng(0)

        def run_gluoncv(sample):
            out = gluoncv_tf(*sample)
            out[0].wait_to_read()

        def run_ours(sample):
            ours(sample[0], sample[1], rng)
        items_per_cpu_second(run_gluoncv, nd_samples[:10])  # warm-up
        items_per_cpu_second(run_ours, samples[:10])
        gluoncv_ips = items_per_cpu_second(run_gluoncv, nd_samples)
        ours_ips = items_per_cpu_second(run_ours, samples)
        rows.append((size, anchors.shape[1], gluoncv_ips, ours_ips))
        print('augmentation %d: GluonCV %.1f img/s, ssd_zoo %.1f img/s (%.1fx)'
              % (size, gluoncv_ips, ours_ips, ours_ips / gluoncv_ips), flush=True)
    return rows


def bench_training_step(samples, batch, iterations, name='ssd_300_mobilenet0.25_voc'):
    """img/s of the whole single-process training loop of GluonCV and of ssd_zoo."""
    import gluoncv
    import numpy as np
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform

    import ssd_zoo
    from ssd_zoo.data import TrainTransform, batchify, normalize_batch
    from ssd_zoo.train.loss import SSDMultiBoxLoss, to_multibox_labels
    size = 300
    reference = gluoncv.model_zoo.get_model(name, pretrained_base=False)
    reference.initialize()
    with mx.autograd.train_mode():
        anchors = reference(mx.nd.zeros((1, 3, size, size)))[2]
    gluoncv_tf = SSDDefaultTrainTransform(size, size, anchors)
    gluoncv_loss = gluoncv.loss.SSDMultiBoxLoss()
    ours = ssd_zoo.get_model(name, pretrained_base=False)
    ours.initialize()
    ours_tf, ours_loss = TrainTransform(size), SSDMultiBoxLoss()
    for net in (reference, ours):
        net.hybridize(static_alloc=True, static_shape=True)
    ours_loss.hybridize()
    trainers = {id(net): mx.gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 1e-4})
                for net in (reference, ours)}
    rng = np.random.default_rng(0)

    def gluoncv_step(chunk):
        items = [gluoncv_tf(mx.nd.array(image, dtype='uint8'), label[:, :5])
                 for image, label in chunk]
        x = mx.nd.stack(*[i[0] for i in items])
        cls_t = mx.nd.stack(*[i[1] for i in items])
        box_t = mx.nd.stack(*[i[2] for i in items])
        with mx.autograd.record():
            cls_preds, box_preds, _ = reference(x)
            total, _, _ = gluoncv_loss(cls_preds, box_preds, cls_t, box_t)
            mx.autograd.backward(total)
        trainers[id(reference)].step(1)
        mx.nd.waitall()

    def ours_step(chunk):
        images, labels = batchify([ours_tf(image, label, rng) for image, label in chunk])
        x = normalize_batch(mx.nd.array(images, dtype='uint8'))
        with mx.autograd.record():
            cls_preds, box_preds, anchors_ = ours(x)
            c, b, n = ours_loss(cls_preds, box_preds, anchors_,
                                to_multibox_labels(mx.nd.array(labels), size, size))
            loss = (c.sum() + b.sum()) / mx.nd.maximum(n.sum(), 1)
        loss.backward()
        trainers[id(ours)].step(1)
        mx.nd.waitall()

    chunks = [samples[i:i + batch] for i in range(0, batch * iterations, batch)]
    gluoncv_step(chunks[0])
    ours_step(chunks[0])
    results = {}
    for key, step in (('gluoncv', gluoncv_step), ('ssd_zoo', ours_step)):
        start = time.perf_counter()
        for chunk in chunks:
            step(chunk)
        results[key] = batch * len(chunks) / (time.perf_counter() - start)
    print('training loop %s batch %d: GluonCV %.1f img/s, ssd_zoo %.1f img/s (%.2fx)'
          % (name, batch, results['gluoncv'], results['ssd_zoo'],
             results['ssd_zoo'] / results['gluoncv']), flush=True)
    return name, batch, results


def bench_pipeline(out_path, count=200, batch=16, iterations=8):
    samples = shapes_images(max(count, batch * iterations))
    augmentation = bench_augmentation(samples[:count], (300, 512))
    step = bench_training_step(samples, batch, iterations)
    lines = [
        '# Training pipeline: ssd_zoo vs GluonCV', '',
        'Written by `python scripts/benchmark_ssd.py pipeline` (%s, mxnet %s, %d CPU cores). '
        'Same %d decoded `shapes` images (300x300) for both.' % (
            time.strftime('%Y-%m-%d'), mx.__version__, os.cpu_count(), count), '',
        '## Augmentation, images per CPU-second (per core)', '',
        'GluonCV: `SSDDefaultTrainTransform` with its per-image target generator (as its '
        'training loader runs it). ssd_zoo: `TrainTransform` (the same recipe); its targets '
        'are built for the whole batch on the device by `MultiBoxTarget` inside the loss, so '
        'they are part of the training step below.', '',
        '| size | anchors | GluonCV img/s | ssd_zoo img/s | speed-up |', '|---|---|---|---|---|']
    for size, anchors, ref, ours in augmentation:
        lines.append('| %d | %d | %.1f | %.1f | %.1fx |' % (size, anchors, ref, ours,
                                                           ours / ref))
    name, batch, results = step
    lines += ['', '## Training loop, images/s (one process, %d cores)' % os.cpu_count(), '',
              'Augmentation + targets + forward + backward + SGD update of `%s`, batch %d, '
              '%d iterations after a warm-up.' % (name, batch, iterations), '',
              '| GluonCV img/s | ssd_zoo img/s | speed-up |', '|---|---|---|',
              '| %.1f | %.1f | %.2fx |' % (results['gluoncv'], results['ssd_zoo'],
                                            results['ssd_zoo'] / results['gluoncv']), '']
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
    pipe = sub.add_parser('pipeline', help='augmentation and training-loop img/s vs GluonCV')
    pipe.add_argument('--images', type=int, default=200)
    pipe.add_argument('--out', default=os.path.join('benchmarks', 'pipeline.md'))
    args = parser.parse_args(argv)
    if args.command == 'inference':
        bench_inference(args.models, args.batch_sizes, args.rounds, args.out)
    else:
        bench_pipeline(args.out, args.images)
    return 0


if __name__ == '__main__':
    sys.exit(main())
