#!/usr/bin/env python
"""Train an SSD (flags as in GluonCV's and the MXNet example's train scripts).

    python scripts/train_ssd.py                                # plainnet SSD300 on shapes
    python scripts/train_ssd.py --network resnet101 --data-shape 512     # MXNet example's net
    python scripts/train_ssd.py --network vgg16_reduced --pretrained model/vgg16_reduced \\
        --epoch 1                                       # its ImageNet checkpoint (Module format)
    python scripts/train_ssd.py --network resnet50_v1 --dataset voc --dataset-root ~/VOCdevkit \\
        --pretrained-base --batch-size 32 --lr 0.001 --epochs 240 --lr-decay-epoch 160,200
"""
import argparse
import logging
import os
import sys

import mxnet as mx
from tqdm import tqdm

import ssd_zoo
from ssd_zoo.data import DATASETS, build_datasets
from ssd_zoo.train import TrainConfig, TrainingDiverged, fit
from ssd_zoo.train.checkpoint import checkpoint_exists

AUGMENT = {'full': {}, 'flip': dict(distort=False, expand=False, crop=False),
           'none': dict(distort=False, expand=False, crop=False, flip=False)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--network', default='plainnet',
                   help='preset backbone (resnet50_v1, vgg16_atrous, ...), an MXNet example '
                        'network (vgg16_reduced, inceptionv3, resnet18..resnet152, mobilenet, '
                        'densenet121) or any GluonCV network')
    p.add_argument('--data-shape', type=int, default=300, help='input side in pixels')
    p.add_argument('--dataset', choices=DATASETS, default='shapes')
    p.add_argument('--dataset-root', default=None, help='dataset folder (shapes: data/shapes)')
    p.add_argument('--classes', default=None, help='comma-separated class names (rec/custom)')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--optimizer', choices=('sgd', 'nag', 'adam'), default='adam')
    p.add_argument('--lr', type=float, default=None,
                   help='default 3e-3; 1e-3 for the MXNet example networks, whose extra layers '
                        'have no BatchNorm (3e-3 made their class loss oscillate from scratch)')
    p.add_argument('--lr-mode', choices=('step', 'cosine'), default='cosine')
    p.add_argument('--lr-decay', type=float, default=0.1)
    p.add_argument('--lr-decay-epoch', default='', help='epochs of step decays, e.g. 160,200')
    p.add_argument('--warmup-epochs', type=float, default=0.5)
    p.add_argument('--wd', type=float, default=5e-5)
    p.add_argument('--momentum', type=float, default=0.9)
    p.add_argument('--augment', choices=sorted(AUGMENT), default='flip',
                   help='full: the SSD recipe; flip: flips only; none')
    p.add_argument('--gpus', default='', help='GPU ids, e.g. 0,1 (default: CPU)')
    p.add_argument('--cpus', type=int, default=1,
                   help='split each batch over this many CPU contexts (multi-device on a CPU)')
    p.add_argument('--num-workers', type=int, default=1, help='data loader processes')
    p.add_argument('--kvstore', default='device',
                   choices=('local', 'device', 'dist_sync', 'dist_device_sync', 'dist_async'),
                   help='dist_*: data-parallel over the processes scripts/launch.py starts; '
                        '--batch-size is then per worker')
    p.add_argument('--resume', nargs='?', const='last', default=None,
                   help='continue from the last checkpoint in --save-prefix (or a .params '
                        'file, with --start-epoch)')
    p.add_argument('--start-epoch', type=int, default=0)
    p.add_argument('--save-prefix', default=None, help='checkpoint folder')
    p.add_argument('--save-interval', type=int, default=5)
    p.add_argument('--val-interval', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--pretrained-base', action='store_true',
                   help='load ImageNet weights of the backbone from $MXNET_HOME/models')
    p.add_argument('--pretrained', default=None, metavar='PREFIX',
                   help='MXNet example networks: base-network checkpoint PREFIX-%%04d.params '
                        '(Module format) to start from, with --epoch')
    p.add_argument('--epoch', type=int, default=0, help='epoch of the --pretrained checkpoint')
    p.add_argument('--transfer', default=None, choices=('voc', 'coco'),
                   help='fine-tune the pretrained voc/coco model with reset_class')
    p.add_argument('--freeze', default=None, help='regex of parameters kept fixed')
    p.add_argument('--amp', action='store_true', help='mixed precision (GPU only)')
    p.add_argument('--metric', choices=('voc07', 'voc', 'coco'), default='voc07')
    return p.parse_args(argv)


def contexts(args):
    if args.gpus:
        return [mx.gpu(int(i)) for i in args.gpus.split(',') if i.strip()]
    return [mx.cpu(i) for i in range(args.cpus)]


def build_net(args, classes):
    if args.transfer:
        net = ssd_zoo.get_model('ssd_%d_%s_%s' % (args.data_shape, args.network, args.transfer),
                                pretrained=True)
        net.reset_class(classes, reuse_weights=[c for c in classes if c in net.classes])
        return net
    net = ssd_zoo.zoo.model_for_network(args.network, args.data_shape, classes, args.dataset,
                                        pretrained_base=args.pretrained_base)
    if args.pretrained:
        from ssd_zoo.symbol.gluon import LEGACY_NETWORKS, load_base_checkpoint
        if args.network not in LEGACY_NETWORKS:
            raise ValueError('--pretrained PREFIX loads Module checkpoints of the MXNet example '
                             'networks (%s); for %s use --pretrained-base'
                             % (', '.join(LEGACY_NETWORKS), args.network))
        count = load_base_checkpoint(net, args.pretrained, args.epoch)
        print('loaded %d base-network parameters from %s-%04d.params'
              % (count, args.pretrained, args.epoch))
    net.initialize()
    return net


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.amp and not args.gpus:
        sys.exit('--amp needs a GPU (--gpus 0): mixed precision training uses float16 '
                 'kernels that this CPU build does not have')
    classes = args.classes.split(',') if args.classes else None
    with tqdm(total=0, desc='preparing data', disable=args.dataset != 'shapes') as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)
        train, val = build_datasets(args.dataset, args.dataset_root, classes, progress)
    print('data: %d training / %d validation images, classes %s'
          % (len(train), len(val), ', '.join(train.classes)))
    net = build_net(args, train.classes)
    if args.lr is None:
        from ssd_zoo.symbol.gluon import LEGACY_NETWORKS
        args.lr = 1e-3 if args.network in LEGACY_NETWORKS else 3e-3
    save_dir = args.save_prefix or os.path.join(
        'runs', 'ssd_%d_%s_%s' % (args.data_shape, args.network, args.dataset))
    resume = args.resume is not None
    if args.resume not in (None, 'last'):  # a weights file: GluonCV-style --resume
        ssd_zoo.weights.load_weights(net, args.resume)
        resume = False
    cfg = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, data_shape=args.data_shape,
        optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, wd=args.wd,
        lr_mode=args.lr_mode, lr_decay=args.lr_decay,
        lr_decay_epochs=[int(e) for e in args.lr_decay_epoch.split(',') if e.strip()],
        warmup_epochs=args.warmup_epochs, save_dir=save_dir, save_interval=args.save_interval,
        val_interval=args.val_interval, seed=args.seed, num_workers=args.num_workers,
        freeze=args.freeze, kvstore=args.kvstore, augment=AUGMENT[args.augment],
        metric=args.metric, resume=resume, start_epoch=args.start_epoch,
        network=args.network)
    if resume and not checkpoint_exists(os.path.join(save_dir, 'last')):
        print('nothing to resume in %s: starting from scratch' % save_dir)
    print('training %s for %d epochs on %s; checkpoints in %s'
          % (getattr(net, 'name_in_zoo', args.network), args.epochs,
             ', '.join(str(c) for c in contexts(args)), save_dir))
    try:
        history = fit(net, train, val, cfg, contexts(args), progress=tqdm)
    except TrainingDiverged as err:
        sys.exit('training stopped: %s' % err)
    best = max((r['map'] for r in history if r['map'] is not None), default=None)
    print('done: last epoch %s; best validation %s mAP %s'
          % (history[-1]['epoch'] if history else '-', args.metric,
             '%.4f' % best if best is not None else '-'))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as err:  # bad flags or data: say what, no trace
        sys.exit('train_ssd.py: %s' % err)
