"""Train an SSD (flags as in GluonCV's and the MXNet example's train scripts).

    ssd-zoo train                                # plainnet SSD300 on shapes
    ssd-zoo train --network resnet101 --data-shape 512     # MXNet example's net
    ssd-zoo train --network vgg16_reduced --pretrained model/vgg16_reduced \\
        --epoch 1                                       # its ImageNet checkpoint (Module format)
    ssd-zoo train --network resnet50_v1 --data-shape 512 --dataset voc \\
        --dataset-root ~/VOCdevkit --pretrained-base --optimizer sgd --lr 0.001 \\
        --lr-mode step --lr-decay-epoch 160,200 --epochs 240 --batch-size 32 --augment full

Defaults are those of ssd_zoo.train.TrainConfig.
"""
import logging

from tqdm import tqdm

from ssd_zoo.cli.datasets import class_list
from ssd_zoo.cli.options import UsageError, bounded, contexts, counting_bar, script_parser
from ssd_zoo.data import DATASETS
from ssd_zoo.data.loader import WORKER_KINDS
from ssd_zoo.data.transforms import AUGMENT_PRESETS
from ssd_zoo.train import TrainConfig
from ssd_zoo.train.checkpoint import checkpoint_exists
from ssd_zoo.train.recipe import TrainRequest, default_lr, default_save_dir, train_model
from ssd_zoo.train.workers import check_launched

D = TrainConfig()  # the defaults


def parse_args(argv=None):
    p = script_parser(__doc__)
    p.add_argument('--network', default='plainnet',
                   help='preset backbone (resnet50_v1, vgg16_atrous, ...), an MXNet example '
                        'network (vgg16_reduced, inceptionv3, resnet18..resnet152, mobilenet, '
                        'densenet121) or any GluonCV network')
    p.add_argument('--data-shape', type=bounded(int, 16), default=D.data_shape,
                   help='input side in pixels')
    p.add_argument('--dataset', choices=DATASETS, default='shapes')
    p.add_argument('--dataset-root', default=None, help='dataset folder (shapes: data/shapes)')
    p.add_argument('--classes', default=None, help='comma-separated class names (rec/custom)')
    p.add_argument('--batch-size', type=bounded(int, 1), default=D.batch_size)
    p.add_argument('--epochs', type=bounded(int, 1), default=D.epochs)
    p.add_argument('--optimizer', choices=('sgd', 'nag', 'adam'), default=D.optimizer)
    p.add_argument('--lr', type=bounded(float, above=0), default=None,
                   help='default %g; %g for the MXNet example networks, whose extra layers '
                        'have no BatchNorm' % (D.lr, default_lr('resnet18')))
    p.add_argument('--lr-mode', choices=('step', 'cosine'), default=D.lr_mode)
    p.add_argument('--lr-decay', type=bounded(float, high=1, above=0), default=D.lr_decay)
    p.add_argument('--lr-decay-epoch', default='', help='epochs of step decays, e.g. 160,200')
    p.add_argument('--warmup-epochs', type=bounded(float, 0), default=D.warmup_epochs)
    p.add_argument('--wd', type=bounded(float, 0), default=D.wd)
    p.add_argument('--momentum', type=bounded(float, 0, 1), default=D.momentum)
    p.add_argument('--augment', choices=sorted(AUGMENT_PRESETS), default=D.augment,
                   help='full: the SSD recipe; flip: flips only; none')
    p.add_argument('--gpus', default='', help='GPU ids, e.g. 0,1 (default: CPU)')
    p.add_argument('--cpus', type=bounded(int, 1), default=1,
                   help='split each batch over this many CPU contexts (multi-device on a CPU)')
    p.add_argument('--num-workers', type=bounded(int, 0), default=D.num_workers,
                   help='data loader workers (0: load in the training thread)')
    p.add_argument('--worker-kind', choices=WORKER_KINDS, default=D.worker_kind,
                   help='auto: one worker is a thread, several are processes')
    p.add_argument('--cache-images', type=float, default=D.cache_images, metavar='GIB',
                   help='keep up to GIB GiB of decoded training images in memory, so that '
                        'epochs after the first do not decode them again (a 300x300 image '
                        'takes 0.26 MiB; default: decode every epoch)')
    p.add_argument('--kvstore', default=D.kvstore,
                   choices=('local', 'device', 'dist_sync', 'dist_device_sync', 'dist_async'),
                   help='dist_*: data-parallel over the processes scripts/launch.py starts; '
                        '--batch-size is then per worker')
    p.add_argument('--resume', nargs='?', const='last', default=None,
                   help='continue from the last checkpoint in --save-prefix (refused if there '
                        'is none), or start from a .params file (with --start-epoch)')
    p.add_argument('--resume-or-start', action='store_true',
                   help='continue from the last checkpoint in --save-prefix if there is one, '
                        'else start from scratch (for jobs that get restarted)')
    p.add_argument('--start-epoch', type=bounded(int, 0), default=D.start_epoch)
    p.add_argument('--save-prefix', default=None, help='checkpoint folder')
    p.add_argument('--save-interval', type=bounded(int, 0), default=D.save_interval,
                   help='epochs between numbered checkpoints (0: only last and best)')
    p.add_argument('--val-interval', type=bounded(int, 1), default=D.val_interval)
    p.add_argument('--seed', type=int, default=D.seed)
    p.add_argument('--pretrained-base', action='store_true',
                   help='ImageNet weights of the backbone: $MXNET_HOME/models, else '
                        'GluonCV\'s model store')
    p.add_argument('--pretrained', default=None, metavar='PREFIX',
                   help='MXNet example networks: base-network checkpoint PREFIX-%%04d.params '
                        '(Module format) to start from, with --epoch')
    p.add_argument('--epoch', type=bounded(int, 0), default=0,
                   help='epoch of the --pretrained checkpoint')
    p.add_argument('--transfer', default=None, choices=('voc', 'coco'),
                   help='fine-tune the pretrained voc/coco model with reset_class')
    p.add_argument('--freeze', default=None, help='regex of parameters kept fixed')
    p.add_argument('--metric', choices=('voc07', 'voc', 'coco'), default=D.metric)
    p.add_argument('--strict-data', action='store_true',
                   help='stop at a box without area or an unreadable image (default: drop or '
                        'skip it, counted and named, as GluonCV and torchvision do)')
    return p.parse_args(argv)


def config(args) -> TrainConfig:
    try:
        decays = [int(e) for e in args.lr_decay_epoch.split(',') if e.strip()]
    except ValueError:
        raise UsageError('--lr-decay-epoch takes comma-separated epochs, e.g. 160,200; got %r'
                         % args.lr_decay_epoch) from None
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, data_shape=args.data_shape,
        optimizer=args.optimizer, lr=args.lr if args.lr is not None else default_lr(args.network),
        momentum=args.momentum, wd=args.wd, lr_mode=args.lr_mode, lr_decay=args.lr_decay,
        lr_decay_epochs=decays, warmup_epochs=args.warmup_epochs,
        save_dir=args.save_prefix or default_save_dir(args.network, args.data_shape,
                                                      args.dataset),
        save_interval=args.save_interval, val_interval=args.val_interval, seed=args.seed,
        num_workers=args.num_workers, worker_kind=args.worker_kind,
        cache_images=args.cache_images, freeze=args.freeze, kvstore=args.kvstore,
        augment=args.augment, metric=args.metric,
        resume=args.resume == 'last' or args.resume_or_start, start_epoch=args.start_epoch,
        network=args.network,
        dataset=args.dataset, dataset_root=args.dataset_root or '')


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.cache_images < 0:
        raise UsageError('--cache-images %g: give the GiB of decoded images to keep in memory '
                         '(0 or more)' % args.cache_images)
    check_launched(args.kvstore)
    if args.resume and args.resume_or_start:
        raise UsageError('--resume and --resume-or-start: give one')
    cfg = config(args)
    if cfg.resume and not checkpoint_exists('%s/last' % cfg.save_dir):
        if not args.resume_or_start:
            raise UsageError('--resume: nothing to resume in %s (no last.params and last.json); '
                             'check --save-prefix, or use --resume-or-start to start from '
                             'scratch when there is none' % cfg.save_dir)
        print('nothing to resume in %s: starting from scratch' % cfg.save_dir)
    request = TrainRequest(class_list(args.classes),
                           args.pretrained_base, args.pretrained, args.epoch, args.transfer,
                           args.resume if args.resume not in (None, 'last') else None,
                           args.strict_data)
    with counting_bar('preparing data', disable=args.dataset != 'shapes') as data_progress:
        _, history, _ = train_model(cfg, request, contexts(args.gpus, args.cpus), progress=tqdm,
                                    report=print, data_progress=data_progress)
    best = max((r['map'] for r in history if r['map'] is not None), default=None)
    print('done: last epoch %s; best validation %s mAP %s'
          % (history[-1]['epoch'] if history else '-', args.metric,
             '%.4f' % best if best is not None else '-'))
    return 0
