"""Benchmarks that compare ssd_zoo with the reference measured in the same run.

    ssd-zoo benchmark inference [--models ...] [--batch-sizes 1 8]
    ssd-zoo benchmark pipeline
    ssd-zoo benchmark training

``inference``: images/s and latency of ssd_zoo FP32, INT8, BF16 (where the CPU has it) and
ONNX Runtime against GluonCV FP32 on the same architecture, batch and weights (the model of
``make run`` and three presets), plus the mAP of each runtime on the trained model; runs are
interleaved round by round so that machine noise hits every contender alike. Writes
``benchmarks/inference.md`` and ``benchmarks/inference.png``.

``pipeline``: training-augmentation images/s on one core of ssd_zoo's ``TrainTransform`` vs
GluonCV's ``SSDDefaultTrainTransform`` (which also builds the targets) on the same decoded
images at 300 and 512, then training-step images/s (augmentation, targets, forward, backward,
update; one process) of ssd_zoo and of GluonCV, at ssd_zoo's thread count and as shipped, on
the same model and batch. Writes ``benchmarks/pipeline.md``.

``training``: images/s of the training loop (``fit``: loader, augmentation, targets, step)
against the bare network's forward + backward + update on the same model and batch (plainnet
300 at batch 16 and at make run's batch 8, mobilenet1.0 512 batch 8), with the training step,
``MultiBoxTarget`` alone and the step's own target computation in between; and every
predictor convolution of plainnet and VGG16 SSD300 as ``nn.Conv2D`` against ssd_zoo's
block-padded one. Writes ``benchmarks/training.md``.
"""
import ssd_zoo  # first: one MXNet thread per core, before libmxnet loads

# isort: split
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from functools import partial

import mxnet as mx

warnings.filterwarnings('ignore', message='Cannot decide type')

#: 'main' is the model `make run` trains (runs/main/best); the presets get random weights
DEFAULT_MODELS = ('main', 'ssd_300_vgg16_atrous_voc', 'ssd_512_resnet50_v1_voc',
                  'ssd_512_mobilenet1.0_voc')
MAIN_CHECKPOINT = os.path.join('runs', 'main', 'best')
GLUONCV = 'GluonCV FP32'
AS_SHIPPED = 'GluonCV FP32 as shipped'


#: GluonCV's graph in a fresh process with MXNet's own thread default (half the CPUs on x86),
#: as a GluonCV user runs it: prints seconds per call (median of bursts) and CPU s per second.
#: Standalone rather than importing this script's timers: importing the script imports
#: ssd_zoo, which would choose MXNet's threads
_AS_SHIPPED_CHILD = r"""
import json, statistics, sys, time
import mxnet as mx
import numpy as np
prefix, data, calls, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
net = mx.gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
net.hybridize(static_alloc=True, static_shape=True)
x = mx.nd.array(np.load(data))
def call():
    for out in net(x):
        out.wait_to_read()
for _ in range(3):
    call()
seconds, cpu, wall = [], time.process_time(), time.perf_counter()
for _ in range(rounds):
    start = time.perf_counter()
    for _ in range(calls):
        call()
    seconds.append((time.perf_counter() - start) / calls)
print(json.dumps({'seconds': statistics.median(seconds),
                  'cpu_per_s': (time.process_time() - cpu) / (time.perf_counter() - wall)}))
"""


def run_child(code, args, threads=None):
    """The JSON a child script prints last, run in a fresh Python with ``threads`` MXNet
    threads, or (None) with MXNet's own default (neither ssd_zoo nor the user choosing)."""
    import json
    import subprocess

    from ssd_zoo.runtime import SPIN_SETTINGS, THREAD_VARIABLES
    # a chosen thread count keeps ssd_zoo's wait policy (as in-process); MXNet's own default
    # comes with libgomp's
    dropped = THREAD_VARIABLES + (tuple(SPIN_SETTINGS) if threads is None else ())
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    out = subprocess.run([sys.executable, '-c', code] + [str(a) for a in args], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gluoncv_as_shipped(reference, x, calls, rounds, tmp):
    """Seconds per call of GluonCV's (exported, hybridized) graph in a fresh process where
    neither ssd_zoo nor the user chose MXNet's threads, and the CPU seconds it used per
    second (its threads, as measured)."""
    import numpy as np
    prefix, data = os.path.join(tmp, 'gluoncv'), os.path.join(tmp, 'x.npy')
    reference.export(prefix)
    np.save(data, x)
    return run_child(_AS_SHIPPED_CHILD, [prefix, data, calls, rounds])


def gluoncv_twin(net):
    """A GluonCV SSD with ``net``'s architecture and weights (its features block is shared)."""
    from gluoncv.model_zoo.ssd.ssd import SSD as GluonSSD
    layouts = net.layouts
    twin = GluonSSD(None, net.base_size, features=lambda **kw: net.features, num_filters=None,
                    sizes=[lay.size for lay in layouts] + [layouts[-1].next_size],
                    ratios=[list(lay.ratios) for lay in layouts],
                    steps=[lay.step for lay in layouts], classes=net.classes)
    from ssd_zoo.compat import is_uninitialized
    for param in twin.collect_params().values():  # new predictors, stored anchors
        if is_uninitialized(param):
            param.initialize()
    twin(mx.nd.zeros((1, 3, net.base_size, net.base_size)))  # settle deferred shapes
    for mine, theirs in ((net.class_predictors, twin.class_predictors),
                         (net.box_predictors, twin.box_predictors)):
        for ours, gluon in zip(mine, theirs):
            gluon.predictor.weight.set_data(ours.predictor.weight.data())
            gluon.predictor.bias.set_data(ours.predictor.bias.data())
    return twin


def load_subject(name):
    """``(ssd_zoo net, GluonCV net, side, trained)`` with the same architecture and weights."""
    import gluoncv

    if name == 'main':
        from ssd_zoo.deploy import load_detector
        if not os.path.isfile(MAIN_CHECKPOINT + '.params'):
            sys.exit('no %s.params: run `make run` first (it trains the model measured here)'
                     % MAIN_CHECKPOINT)
        net = load_detector(checkpoint=MAIN_CHECKPOINT).net
        return net, gluoncv_twin(net), net.base_size, True
    from ssd_zoo.model.zoo import lookup
    size = lookup(name)[0].base_size
    mx.random.seed(0)
    reference = gluoncv.model_zoo.get_model(name, pretrained_base=False)
    reference.initialize()
    reference(mx.nd.zeros((1, 3, size, size)))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'w.params')
        reference.save_parameters(path)
        net = ssd_zoo.get_model(name, pretrained=path)
    return net, reference, size, False


def shapes_batches(side, batch, count, split='val'):
    """Normalized ``shapes`` images (real pixels, for calibration and timing)."""
    from ssd_zoo.data import build_datasets
    from ssd_zoo.deploy import calibration_batches
    train, val = build_datasets('shapes', None, None)
    return calibration_batches(train if split == 'train' else val, side, count, batch_size=batch)


def build_contenders(net, reference, side, batch, tmp):
    """label -> callable running one batch, for every precision and runtime."""
    from ssd_zoo.deploy import bf16_supported, quantize_int8, to_bfloat16
    from ssd_zoo.deploy.onnx_export import OnnxDetector, export_onnx
    from ssd_zoo.runtime import describe
    shape = (batch, 3, side, side)
    calib = shapes_batches(side, 16, 32, 'train')
    contenders = {GLUONCV: reference, 'ssd_zoo FP32': net,
                  'ssd_zoo INT8': quantize_int8(net, calib, shape).net}
    if bf16_supported():
        contenders['ssd_zoo BF16'] = to_bfloat16(net, shape).net
    onnx_path = export_onnx(net, os.path.join(tmp, 'model_%d.onnx' % batch), shape)
    # as many threads as MXNet runs (ONNX Runtime alone would take every core)
    contenders['ONNX Runtime FP32'] = OnnxDetector(onnx_path, threads=describe()['threads'])
    for block in (reference, net):
        block.hybridize(static_alloc=True, static_shape=True)
    return contenders


def time_once(net, x):
    start = time.perf_counter()
    for out in net(x):
        if hasattr(out, 'wait_to_read'):
            out.wait_to_read()
    return time.perf_counter() - start


def interleaved_seconds(contenders, calls, rounds, warmup=2):
    """Median seconds per call of each ``contenders[name]()`` (a call waits for its result):
    every round, each contender runs a burst of ``calls`` (an int, or one per name) back-to-back
    calls in turn, so that the machine's drift hits all alike. ``warmup`` calls each first
    (traces, oneDNN primitives, optimizer state)."""
    for call in contenders.values():
        for _ in range(warmup):
            call()
    bursts = calls if isinstance(calls, dict) else dict.fromkeys(contenders, calls)
    seconds = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            start = time.perf_counter()
            for _ in range(bursts[name]):
                call()
            seconds[name].append((time.perf_counter() - start) / bursts[name])
    return {name: statistics.median(values) for name, values in seconds.items()}


def accuracy(contenders, side):
    """VOC07 mAP of every contender on the shapes validation split (batch 1)."""
    from ssd_zoo.data import ValTransform, build_datasets, make_loader
    from ssd_zoo.evaluation import evaluate
    _, val = build_datasets('shapes', None, None)
    loader, _ = make_loader(val, ValTransform(side), 1, shuffle=False, drop_last=False)
    return {label: evaluate(net, loader, val.classes, ('voc07',))['voc07']['mAP']
            for label, net in contenders.items()}


def bench_inference(models, batch_sizes, rounds, out_path):
    rows, maps, shipped_cpu = [], {}, {}
    for name in models:
        net, reference, side, trained = load_subject(name)
        for batch in batch_sizes:
            with tempfile.TemporaryDirectory() as tmp:
                contenders = build_contenders(net, reference, side, batch, tmp)
                x = shapes_batches(side, batch, batch)[0]
                x_numpy = x.asnumpy()
                inputs = {k: x if isinstance(run, mx.gluon.Block) else x_numpy
                          for k, run in contenders.items()}
                runs = {key: partial(time_once, run, inputs[key])
                        for key, run in contenders.items()}
                calls = {}
                for key, call in runs.items():  # warm up (and trace); ~0.2 s bursts
                    call()
                    calls[key] = max(1, int(0.2 / call()))
                latency = interleaved_seconds(runs, calls, rounds, warmup=0)
                shipped = gluoncv_as_shipped(contenders[GLUONCV], x_numpy, calls[GLUONCV],
                                             rounds, tmp)
                latency[AS_SHIPPED] = shipped['seconds']
                shipped_cpu[(name, batch)] = shipped['cpu_per_s']
                if trained and batch == 1:
                    maps[name] = accuracy(contenders, side)
            rows.append((name, batch, latency))
            print('%-28s batch %d: %s' % (name, batch, ', '.join(
                '%s %.1f img/s' % (k, batch / v) for k, v in latency.items())), flush=True)
    write_inference_report(rows, maps, rounds, out_path, shipped_cpu)


def write_inference_report(rows, maps, rounds, out_path, shipped_cpu):
    from ssd_zoo.runtime import describe
    info = describe()
    lines = [
        '# Inference speed: ssd_zoo FP32 / INT8 / BF16 / ONNX Runtime vs GluonCV FP32', '',
        'Machine: %s; oneDNN ISA %s; %d threads for MXNet (GluonCV and ssd_zoo alike) and '
        'for ONNX Runtime (%s).' % (info['cpu'], info['onednn_isa'], info['threads'],
                                   info['threads_reason']), '',
        'Written by `ssd-zoo benchmark inference` (%s, mxnet %s, onnxruntime %s, '
        '%d CPU cores, Python %s). Same architecture, batch and weights; median of %d '
        'interleaved rounds, each a ~0.2 s burst of back-to-back calls, on `shapes` images. '
        '`main` is the model `make run` trains; the '
        'presets have random weights (GluonCV\'s initialization). INT8: calibrated on 32 '
        'training images (naive); INT8 and BF16 convert the body and keep the decoding FP32.'
        % (time.strftime('%Y-%m-%d'), mx.__version__, _onnxruntime_version(), os.cpu_count(),
           platform.python_version(), rounds), '',
        '`%s`: the same GluonCV graph (exported) in a fresh process that leaves MXNet its '
        'own thread default (half the CPUs on x86), as a GluonCV user runs it, timed right '
        'after the interleaved rounds; its CPU seconds per second: %s.' % (
            AS_SHIPPED, ', '.join('%.2f' % v for v in shipped_cpu.values())), '',
        '| model | batch | runtime | img/s | latency ms | vs GluonCV FP32 (same threads) '
        '| vs GluonCV as shipped |', '|---|---|---|---|---|---|---|']
    for name, batch, latency in rows:
        ref, shipped = latency[GLUONCV], latency[AS_SHIPPED]
        for label, seconds in latency.items():
            lines.append('| %s | %d | %s | %.1f | %.1f | %.2fx | %.2fx |' % (
                name, batch, label, batch / seconds, seconds * 1000, ref / seconds,
                shipped / seconds))
    for name, scores in maps.items():
        lines += ['', 'Accuracy of `%s` (VOC07 11-point mAP, shapes validation, 300 images):'
                  % name, '', '| runtime | mAP | vs ssd_zoo FP32 |', '|---|---|---|']
        for label, value in scores.items():
            lines.append('| %s | %.4f | %+.4f |' % (label, value,
                                                    value - scores['ssd_zoo FP32']))
    chart = os.path.splitext(out_path)[0] + '.png'
    lines += ['', 'GluonCV decodes per class (`box_nms`); ssd_zoo and its exports decode with '
              '`MultiBoxDetection` semantics (one class per anchor). Chart: '
              '[%s](%s).' % ((os.path.basename(chart),) * 2), '']
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines))
    plot_inference(rows, chart)
    print('wrote', out_path)


def _onnxruntime_version():
    import onnxruntime
    return onnxruntime.__version__


def plot_inference(rows, path):
    """Grouped bars: img/s of every runtime, per model and batch."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = list(rows[0][2])
    groups = ['%s\nbatch %d' % (name.replace('_voc', ''), batch) for name, batch, _ in rows]
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(rows)), 4.5))
    for k, label in enumerate(labels):
        values = [batch / latency[label] if label in latency else 0
                  for _, batch, latency in rows]
        ax.bar([i + k * width for i in range(len(rows))], values, width, label=label)
    ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(rows))])
    ax.set_xticklabels(groups, fontsize=7)
    ax.set_yscale('log')
    ax.set_ylabel('images / s (log)')
    ax.legend(fontsize=8)
    ax.set_title('SSD inference on %d CPU cores' % os.cpu_count())
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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


#: GluonCV's training step (its transform with its per-image target generator, forward, its
#: SSDMultiBoxLoss, backward, SGD update) over pickled ``(image, label)`` samples, in a fresh
#: process: with OMP_NUM_THREADS set by the parent (ssd_zoo's count) or without (GluonCV as
#: shipped). Prints images/s and CPU seconds per second. Standalone, as _AS_SHIPPED_CHILD
_GLUONCV_TRAINING_CHILD = r"""
import json, pickle, sys, time
import gluoncv
import mxnet as mx
from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
name, samples_path, batch, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(samples_path, 'rb') as f:
    samples = pickle.load(f)
size = 300
net = gluoncv.model_zoo.get_model(name, pretrained_base=False)
net.initialize()
with mx.autograd.train_mode():
    anchors = net(mx.nd.zeros((1, 3, size, size)))[2]
transform = SSDDefaultTrainTransform(size, size, anchors)
loss = gluoncv.loss.SSDMultiBoxLoss()
net.hybridize(static_alloc=True, static_shape=True)
trainer = mx.gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 1e-4})
def step(chunk):
    items = [transform(mx.nd.array(image, dtype='uint8'), label[:, :5]) for image, label in chunk]
    x, cls_targets, box_targets = (mx.nd.stack(*[item[k] for item in items]) for k in range(3))
    with mx.autograd.record():
        cls_preds, box_preds, _ = net(x)
        total, _, _ = loss(cls_preds, box_preds, cls_targets, box_targets)
        mx.autograd.backward(total)
    trainer.step(1)
    mx.nd.waitall()
chunks = [samples[i:i + batch] for i in range(0, batch * iterations, batch)]
step(chunks[0])
cpu, wall = time.process_time(), time.perf_counter()
for chunk in chunks:
    step(chunk)
elapsed = time.perf_counter() - wall
print(json.dumps({'img_per_s': batch * len(chunks) / elapsed,
                  'cpu_per_s': (time.process_time() - cpu) / elapsed}))
"""


def gluoncv_training(name, samples_path, batch, iterations, threads=None):
    """``{'img_per_s', 'cpu_per_s'}`` of GluonCV's training step in a fresh process, with
    ``threads`` MXNet threads, or (None) with MXNet's own default as GluonCV users get it."""
    return run_child(_GLUONCV_TRAINING_CHILD, [name, samples_path, batch, iterations], threads)


def bench_training_step(samples, batch, iterations, name='ssd_300_mobilenet0.25_voc',
                        rounds=2):
    """img/s of the single-process training step of ssd_zoo (this process, as shipped) and of
    GluonCV at ssd_zoo's thread count and as shipped (fresh processes); the three take turns
    for ``rounds`` rounds (medians), so that the machine's drift hits them alike."""
    import pickle

    import numpy as np

    from ssd_zoo.data import TrainTransform, batchify
    from ssd_zoo.runtime import configure_threads
    from ssd_zoo.train import TrainStep
    ours = ssd_zoo.get_model(name, pretrained_base=False)
    ours.initialize()
    ours.hybridize(static_alloc=True, static_shape=True)
    trainer = mx.gluon.Trainer(ours.collect_params(), 'sgd', {'learning_rate': 1e-4})
    train_step = TrainStep(ours, trainer, [mx.cpu()])
    transform = TrainTransform(300)
    rng = np.random.default_rng(0)
    chunks = [samples[i:i + batch] for i in range(0, batch * iterations, batch)]

    def ours_step(chunk):
        images, labels = batchify([transform(image, label, rng) for image, label in chunk])
        train_step(images, labels, 1e-4)
        mx.nd.waitall()

    def ours_rate():
        start = time.perf_counter()
        for chunk in chunks:
            ours_step(chunk)
        return batch * len(chunks) / (time.perf_counter() - start)

    ours_step(chunks[0])
    threads = configure_threads().threads
    runs = {'gluoncv': [], 'gluoncv_as_shipped': [], 'ssd_zoo': []}
    with tempfile.TemporaryDirectory() as tmp:
        samples_path = os.path.join(tmp, 'samples.pkl')
        with open(samples_path, 'wb') as f:
            pickle.dump(samples[:batch * iterations], f)
        for _ in range(rounds):
            runs['gluoncv'].append(gluoncv_training(name, samples_path, batch, iterations,
                                                    threads))
            runs['ssd_zoo'].append({'img_per_s': ours_rate()})
            runs['gluoncv_as_shipped'].append(gluoncv_training(name, samples_path, batch,
                                                               iterations))
    results = {key: statistics.median(r['img_per_s'] for r in rows)
               for key, rows in runs.items()}
    results['as_shipped_cpu_per_s'] = statistics.median(
        r['cpu_per_s'] for r in runs['gluoncv_as_shipped'])
    results['rounds'] = rounds
    print('training step %s batch %d: GluonCV %.1f img/s (same threads), %.1f (as shipped), '
          'ssd_zoo %.1f' % (name, batch, results['gluoncv'], results['gluoncv_as_shipped'],
                            results['ssd_zoo']), flush=True)
    return name, batch, results


def bench_pipeline(out_path, count=200, batch=16, iterations=8):
    samples = shapes_images(max(count, batch * iterations))
    augmentation = bench_augmentation(samples[:count], (300, 512))
    step = bench_training_step(samples, batch, iterations)
    from ssd_zoo.runtime import describe
    info = describe()
    lines = [
        '# Training pipeline: ssd_zoo vs GluonCV', '',
        'Written by `ssd-zoo benchmark pipeline` (%s, mxnet %s, %d CPU cores). '
        'Machine: %s; oneDNN ISA %s; ssd_zoo: %d MXNet threads (%s). Same %d decoded '
        '`shapes` images (300x300) for both.' % (
            time.strftime('%Y-%m-%d'), mx.__version__, os.cpu_count(), info['cpu'],
            info['onednn_isa'], info['threads'], info['threads_reason'], count), '',
        '## Augmentation, images per CPU-second (per core)', '',
        'GluonCV: `SSDDefaultTrainTransform` with its per-image target generator (as its '
        'training loader runs it). ssd_zoo: `TrainTransform` (the same recipe); its targets '
        'are built for the whole batch by the training step (`MultiBoxTarget`\'s, matched on '
        'the host, mined on the device), so they are part of the training step below.', '',
        '| size | anchors | GluonCV img/s | ssd_zoo img/s | speed-up |', '|---|---|---|---|---|']
    for size, anchors, ref, ours in augmentation:
        lines.append('| %d | %d | %.1f | %.1f | %.1fx |' % (size, anchors, ref, ours,
                                                           ours / ref))
    name, batch, results = step
    lines += ['', '## Training step, images/s (one process, %d cores)' % os.cpu_count(), '',
              'Augmentation + targets + forward + backward + SGD update of `%s`, batch %d, '
              '%d iterations after a warm-up; medians of %d rounds in which the three take '
              'turns. GluonCV runs in fresh processes: with ssd_zoo\'s %d threads, and as '
              'shipped (MXNet\'s own default, half the CPUs on x86; measured %.2f CPU '
              'seconds per second).' % (name, batch, iterations, results['rounds'],
                                        info['threads'], results['as_shipped_cpu_per_s']), '',
              '| GluonCV img/s (same threads) | GluonCV img/s (as shipped) | ssd_zoo img/s '
              '| vs same threads | vs as shipped |', '|---|---|---|---|---|',
              '| %.1f | %.1f | %.1f | %.2fx | %.2fx |' % (
                  results['gluoncv'], results['gluoncv_as_shipped'], results['ssd_zoo'],
                  results['ssd_zoo'] / results['gluoncv'],
                  results['ssd_zoo'] / results['gluoncv_as_shipped']), '']
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines))
    print('wrote', out_path)


#: (network, input side, batch) of ``benchmark_ssd.py training``
TRAINING_MODELS = (('plainnet', 300, 16), ('plainnet', 300, 8), ('mobilenet1.0', 512, 8))


def training_subjects(network, side, classes):
    from ssd_zoo.model.zoo import model_for_network
    net = model_for_network(network, side, classes, 'shapes', pretrained_base=False)
    net.initialize()
    net.hybridize(static_alloc=True, static_shape=True)  # as the training loop runs it
    return net


def bench_training_loop(network, side, batch, iterations, classes, rounds=3):
    """img/s of the bare network (forward, a target-free loss, backward, Adam update on one
    fixed batch), of the training step (the same plus the targets and the SSD loss), of the
    whole loop (``fit``: loader, augmentation, step); ms of ``MultiBoxTarget``, of the step's
    host matching and of its device mining."""
    import numpy as np

    from ssd_zoo.data import TrainTransform, VOCFolder, batchify, generate_shapes
    from ssd_zoo.data.shapes import ShapesSpec
    from ssd_zoo.train import TrainConfig, TrainStep
    from ssd_zoo.train.loss import to_multibox_labels
    from ssd_zoo.train.targets import mine_negatives

    net = training_subjects(network, side, classes)
    trainer = mx.gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 1e-4})
    rng = np.random.default_rng(0)
    samples = shapes_images(batch)
    images, labels = batchify([TrainTransform(side)(*sample, rng) for sample in samples])
    x = mx.nd.random.normal(shape=(batch, 3, side, side))

    def bare():
        with mx.autograd.record():
            cls_preds, box_preds, _ = net(x)
            loss = cls_preds.sum() + box_preds.sum()
        loss.backward()
        trainer.step(batch)
        mx.nd.waitall()

    step = TrainStep(net, trainer, [mx.cpu()])

    def train_step():
        step(images, labels, 1e-4)
        mx.nd.waitall()

    with mx.autograd.train_mode():
        cls_preds, _, anchors = net.heads(mx.nd, x)  # anchors as MultiBoxTarget takes them
    host_targets = to_multibox_labels(labels, side, side)
    targets = mx.nd.array(host_targets)
    options = step.loss.target_options
    host_anchors = anchors.asnumpy()[0]

    def operator_targets():
        mx.nd.contrib.MultiBoxTarget(anchors, targets, cls_preds.transpose((0, 2, 1)),
                                     **options)[2].wait_to_read()

    def host_matching():
        step.loss.match(host_anchors, host_targets)

    matches = step.loss.match(host_anchors, host_targets)

    def device_mining():
        mine_negatives(cls_preds, mx.nd.array(matches.cls_target), matches.wanted,
                       options['ignore_label']).wait_to_read()

    seconds = interleaved_seconds({'bare': bare, 'step': train_step, 'target': operator_targets,
                                   'match': host_matching, 'mine': device_mining},
                                  iterations, rounds)
    rates = {'bare': batch / seconds['bare'], 'step': batch / seconds['step'],
             'target_ms': 1000 * seconds['target'], 'match_ms': 1000 * seconds['match'],
             'mine_ms': 1000 * seconds['mine']}
    with tempfile.TemporaryDirectory() as tmp:
        # the first images of the shapes training set (the same seed), one epoch's worth
        subset = VOCFolder(generate_shapes(os.path.join(tmp, 'shapes'), ShapesSpec(
            num_train=batch * iterations, num_val=0)), 'train')
        for key, cache in (('loop', 0.0), ('cached', 1.0)):
            cfg = TrainConfig(epochs=rounds + 1, batch_size=batch, data_shape=side,
                              save_dir=os.path.join(tmp, key), save_interval=0,
                              val_interval=10 ** 6, network=network, lr=1e-4,
                              warmup_epochs=0, cache_images=cache)
            rates[key], ratios = loop_against_bare(net, subset, cfg, bare, iterations)
            rates[key + '_vs_bare'] = statistics.median(ratios)
            rates[key + '_vs_bare_range'] = (min(ratios), max(ratios))
    print('training %s %d batch %d: bare %.1f img/s, step %.1f, loop %.1f (loop/bare %.2f), '
          'with cached images %.1f (%.2f); targets per batch: MultiBoxTarget %.0f ms, host '
          'matching %.0f ms + device mining %.0f ms'
          % (network, side, batch, rates['bare'], rates['step'], rates['loop'],
             rates['loop_vs_bare'], rates['cached'], rates['cached_vs_bare'],
             rates['target_ms'], rates['match_ms'], rates['mine_ms']), flush=True)
    return rates


def loop_against_bare(net, dataset, cfg, bare, iterations):
    """img/s of ``fit`` (median of the epochs after the first) and, per such epoch, the
    ratio of its time to a burst of as many ``bare`` calls run right after it (so that both
    see the same machine: its speed drifts)."""
    from ssd_zoo.train import fit
    bare_seconds = []

    def bare_after_each_epoch(epoch, index, _):
        if index == iterations - 1:
            mx.nd.waitall()
            start = time.perf_counter()
            for _ in range(iterations):
                bare()
            bare_seconds.append(time.perf_counter() - start)

    history = fit(net, dataset, None, cfg, on_step=bare_after_each_epoch)  # the same net
    loop_seconds = [cfg.batch_size * iterations / row['img_per_s'] - burst  # minus the burst
                    for row, burst in zip(history, bare_seconds)]
    rate = statistics.median(cfg.batch_size * iterations / s for s in loop_seconds[1:])
    return rate, [b / s for b, s in zip(bare_seconds[1:], loop_seconds[1:])]


#: (network, dataset) whose predictor convolutions the padding comparison times
PADDING_MODELS = (('plainnet', 'shapes'), ('vgg16_atrous', 'voc'))
PADDING_BATCH = 8


def predictor_shapes(network, dataset, side=300):
    """``(name, in_channels, height, width, out_channels)`` of every predictor of a model."""
    from ssd_zoo.data import SHAPE_CLASSES
    from ssd_zoo.model.zoo import model_for_network
    net = model_for_network(network, side, SHAPE_CLASSES, dataset, pretrained_base=False)
    net.initialize()
    with mx.autograd.predict_mode():
        features = net.features(mx.nd.zeros((1, 3, side, side)))
    shapes = []
    for kind, predictors in (('class', net.class_predictors), ('box', net.box_predictors)):
        for index, (feature, predictor) in enumerate(zip(features, predictors)):
            shapes.append(('%s %d' % (kind, index), feature.shape[1], feature.shape[2],
                           feature.shape[3], predictor.predictor.weight.shape[0]))
    return shapes


def bench_predictor_padding(batch=8, calls=5, rounds=3):
    """ms of forward + backward of each predictor convolution at its real shape, as
    ``nn.Conv2D`` and as ssd_zoo's block-padded convolution, per model."""
    from ssd_zoo.model.heads import BlockPaddedConv2D
    results = []
    for network, dataset in PADDING_MODELS:
        contenders, layers = {}, []
        for name, cin, height, width, channels in predictor_shapes(network, dataset):
            x = mx.nd.random.normal(shape=(batch, cin, height, width))
            x.attach_grad()
            for label, cls in (('plain', mx.gluon.nn.Conv2D), ('padded', BlockPaddedConv2D)):
                conv = cls(channels, 3, padding=1, in_channels=cin)
                conv.initialize()
                conv.hybridize(static_alloc=True, static_shape=True)

                def run(conv=conv, x=x):
                    with mx.autograd.record():
                        y = conv(x)
                    y.backward()
                    mx.nd.waitall()
                contenders[(name, label)] = run
            layers.append((name, cin, height, channels))
        seconds = interleaved_seconds(contenders, calls, rounds)
        results.append((network, dataset, [(name, cin, height, channels,
                                             1000 * seconds[(name, 'plain')],
                                             1000 * seconds[(name, 'padded')])
                                            for name, cin, height, channels in layers]))
        print('predictors of %s (%s), batch %d: %.1f ms as nn.Conv2D, %.1f ms block-padded'
              % ((network, dataset, batch) + padding_totals(results[-1][2])), flush=True)
    return results


def padding_totals(layers):
    """(nn.Conv2D ms, padded ms) of all the predictors of one model."""
    return sum(r[4] for r in layers), sum(r[5] for r in layers)


def padding_report(results, batch):
    from ssd_zoo.runtime import conv_channel_block
    block = conv_channel_block()
    lines = ['## Predictor convolutions: output channels padded to oneDNN\'s block', '',
             'Forward + backward of each class and box predictor at its real shape (SSD300, '
             'batch %d), as `nn.Conv2D` and as `ssd_zoo.model.heads.BlockPaddedConv2D` (output '
             'channels padded to %d here, the padding sliced off; same outputs), taking '
             'turns, medians.' % (batch, block), '',
             '| model | predictor | in channels | map | out channels | nn.Conv2D ms | '
             'padded ms |', '|---|---|---:|---:|---:|---:|---:|']
    for network, dataset, layers in results:
        for name, cin, side, channels, plain, padded in layers:
            lines.append('| %s %s | %s | %d | %d | %d | %.1f | %.1f |'
                         % (network, dataset, name, cin, side, channels, plain, padded))
        lines.append('| %s %s | **all** | | | | **%.1f** | **%.1f** |'
                     % ((network, dataset) + padding_totals(layers)))
    return lines + ['']


def bench_training(out_path, iterations=12, rounds=5):
    from ssd_zoo.data import SHAPE_CLASSES
    from ssd_zoo.runtime import describe
    rows = [(n, s, b, bench_training_loop(n, s, b, iterations, SHAPE_CLASSES, rounds))
            for n, s, b in TRAINING_MODELS]
    padding = bench_predictor_padding(PADDING_BATCH)
    info = describe()
    lines = ['# Training: the loop against the network\'s own speed', '',
             'Written by `ssd-zoo benchmark training` (%s, mxnet %s). Machine: '
             '%s; oneDNN ISA %s; %d threads (%s).'
             % (time.strftime('%Y-%m-%d'), mx.__version__, info['cpu'], info['onednn_isa'],
                info['threads'], info['threads_reason']), '',
             '- bare: forward, a target-free loss (sum of the outputs), backward and Adam '
             'update of one fixed batch: what the network itself costs;',
             '- step: `ssd_zoo.train.TrainStep` on one fixed augmented batch (adds the '
             'targets: matching on the host during the forward pass, hard-negative mining on '
             'the device; the SSD loss, uint8 upload and normalization);',
             '- loop: `ssd_zoo.train.fit` over %d batches of `shapes` (loader with 1 worker, a '
             'thread, flips, the step, the loss read one step late), median of epochs 2-%d; '
             'loop / bare: the median over those epochs of the loop\'s time against a burst of '
             'as many bare calls run right after the epoch (so that both see the same '
             'machine: its speed drifts), and in brackets the lowest and highest epoch;'
             % (iterations, rounds + 1),
             '- cached loop: the same with `--cache-images 1` (decoded images kept in memory '
             'after the first epoch: the loader no longer decodes JPEGs);',
             '- targets: the same targets by `MultiBoxTarget` (the operator the step used '
             'before; equal outputs), and the step\'s own host matching and device mining, '
             'per batch.',
             '', 'bare, step and the three target computations take turns for %d rounds of %d '
             'calls (medians), after a warm-up.' % (rounds, iterations), '',
             '| network | input | batch | bare img/s | step img/s | loop img/s | loop / bare '
             '(epochs) | cached loop img/s | cached loop / bare (epochs) | MultiBoxTarget ms '
             '| host matching ms | device mining ms |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for network, side, batch, r in rows:
        lines.append('| %s | %d | %d | %.1f | %.1f | %.1f | %.2f (%.2f-%.2f) | %.1f | '
                     '%.2f (%.2f-%.2f) | %.0f | %.0f | %.0f |'
                     % ((network, side, batch, r['bare'], r['step'], r['loop'],
                         r['loop_vs_bare']) + r['loop_vs_bare_range']
                        + (r['cached'], r['cached_vs_bare']) + r['cached_vs_bare_range']
                        + (r['target_ms'], r['match_ms'], r['mine_ms'])))
    lines.append('')
    lines += padding_report(padding, PADDING_BATCH)
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines))
    print('wrote', out_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    inf = sub.add_parser('inference', help='img/s of ssd_zoo runtimes vs GluonCV FP32')
    inf.add_argument('--models', nargs='+', default=list(DEFAULT_MODELS))
    inf.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 8])
    inf.add_argument('--rounds', type=int, default=7)
    inf.add_argument('--out', default=os.path.join('benchmarks', 'inference.md'))
    pipe = sub.add_parser('pipeline', help='augmentation and training-loop img/s vs GluonCV')
    pipe.add_argument('--images', type=int, default=200)
    pipe.add_argument('--out', default=os.path.join('benchmarks', 'pipeline.md'))
    train = sub.add_parser('training', help='the training loop vs the bare network')
    train.add_argument('--iterations', type=int, default=12)
    train.add_argument('--rounds', type=int, default=5,
                       help='measured loop epochs (after one warm-up epoch)')
    train.add_argument('--out', default=os.path.join('benchmarks', 'training.md'))
    args = parser.parse_args(argv)
    if args.command == 'inference':
        bench_inference(args.models, args.batch_sizes, args.rounds, args.out)
    elif args.command == 'training':
        bench_training(args.out, args.iterations, args.rounds)
    else:
        bench_pipeline(args.out, args.images)
    return 0
