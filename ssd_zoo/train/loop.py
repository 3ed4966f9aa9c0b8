"""The training loop: epochs of :class:`~ssd_zoo.train.step.TrainStep`, with validation,
checkpoints that resume exactly, divergence detection, per-epoch metrics (CSV) and a
training-curve picture."""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import time
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence, Union

import mxnet as mx

from ..data.cache import GIB
from ..data.classes import fold_name
from ..data.loader import make_loader
from ..data.transforms import AUGMENT_PRESETS, TrainTransform, ValTransform
from ..evaluation import evaluate
from ..fileio import atomic_path
from ..model.spec import spec_of
from .checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from .schedule import LRSchedule
from .step import StepLosses, TrainStep
from .workers import Workers

__all__ = ['TrainConfig', 'TrainingDiverged', 'fit', 'write_metrics_csv', 'check_resumable']

log = logging.getLogger(__name__)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the message says where and what to try."""


@dataclass
class TrainConfig:
    """Everything the loop needs besides the network and the data.

    The one source of the training defaults: ``scripts/train_ssd.py`` takes its flags'
    defaults from here. They are the recipe that trains an SSD from scratch on a CPU in
    minutes (Adam, warmup then cosine decay, flips); GluonCV's long VOC recipe is SGD lr 1e-3,
    wd 5e-4, steps at 160/200 of 240 epochs, full augmentation (the README's VOC command).
    """

    epochs: int = 12
    batch_size: int = 16
    data_shape: int = 300
    optimizer: str = 'adam'
    lr: float = 3e-3
    momentum: float = 0.9
    wd: float = 5e-5
    lr_mode: str = 'cosine'
    lr_decay: float = 0.1
    lr_decay_epochs: Sequence[int] = ()
    warmup_epochs: float = 0.5
    save_dir: str = 'runs/ssd'
    save_interval: int = 5
    val_interval: int = 1
    seed: int = 0
    num_workers: int = 1
    #: how the loader's workers run: one of :data:`ssd_zoo.data.loader.WORKER_KINDS`
    worker_kind: str = 'auto'
    #: GiB of decoded training images kept in memory for the next epochs (0: decode each
    #: epoch); see :class:`ssd_zoo.data.cache.DecodedImageCache`
    cache_images: float = 0.0
    freeze: Optional[str] = None
    kvstore: str = 'device'
    #: a name of :data:`ssd_zoo.data.transforms.AUGMENT_PRESETS` or TrainTransform options
    augment: Union[str, dict] = 'flip'
    metric: str = 'voc07'
    resume: bool = False
    start_epoch: int = 0
    network: str = ''
    #: where the data came from (``--dataset``, ``--dataset-root``): recorded in checkpoints,
    #: so that evaluation and quantization default to the model's own dataset
    dataset: str = ''
    dataset_root: str = ''

    def augment_options(self) -> dict:
        """The :class:`~ssd_zoo.data.transforms.TrainTransform` options of ``augment``."""
        if isinstance(self.augment, dict):
            return dict(self.augment)
        if self.augment not in AUGMENT_PRESETS:
            raise ValueError('augment must be one of %s or a dict of TrainTransform options, '
                             'got %r' % (sorted(AUGMENT_PRESETS), self.augment))
        return dict(AUGMENT_PRESETS[self.augment])

    def optimizer_params(self) -> dict:
        params = {'learning_rate': self.lr, 'wd': self.wd}
        if self.optimizer in ('sgd', 'nag'):
            params['momentum'] = self.momentum
        return params


def _freeze(net, pattern: Optional[str]) -> List[str]:
    """Set ``grad_req='null'`` on parameters whose name matches ``pattern``; returns them."""
    if not pattern:
        return []
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ValueError('--freeze %r is not a regular expression: %s' % (pattern, err)) from None
    frozen = [name for name, p in net.collect_params().items() if regex.search(name)]
    if not frozen:
        raise ValueError('--freeze %r matches no parameter (names look like %s)'
                         % (pattern, list(net.collect_params().keys())[:3]))
    for name in frozen:
        net.collect_params()[name].grad_req = 'null'
    return frozen


def _diagnose(epoch, iteration, lr, losses: StepLosses, last_checkpoint):
    part = 'class' if not math.isfinite(losses.cls_loss) else 'box'
    value = losses.cls_loss if part == 'class' else losses.box_loss
    return ('the %s loss became %s at epoch %d, iteration %d (learning rate %.3g; class loss '
            '%.4g, box loss %.4g). Likely causes: a learning rate too high for this batch size '
            '(try a tenth of it, or a longer warmup), or labels with empty or out-of-image '
            'boxes. Last good checkpoint: %s'
            % (part, value, epoch + 1, iteration + 1, lr, losses.cls_loss, losses.box_loss,
               last_checkpoint or 'none yet'))


@dataclass
class _Run:
    """What the epochs share: the step, the data, the schedule, the progress state."""

    step: TrainStep
    loader: object
    sampler: object
    val_loader: object
    schedule: LRSchedule
    state: dict
    trainer: Optional[mx.gluon.Trainer]  # None: the optimizer state is not ours to save
    workers: Workers
    last_prefix: str


def _prepare(net, train_dataset, val_dataset, cfg: TrainConfig, contexts) -> _Run:
    if cfg.batch_size % len(contexts):
        raise ValueError('batch size %d does not split evenly over %d devices'
                         % (cfg.batch_size, len(contexts)))
    net.collect_params().reset_ctx(contexts)
    frozen = _freeze(net, cfg.freeze)
    if frozen:
        log.info('frozen %d parameters matching %r', len(frozen), cfg.freeze)
    trainable = {k: p for k, p in net.collect_params().items() if p.grad_req != 'null'}
    workers = Workers(cfg.kvstore)
    if workers.distributed:
        log.info('this process is rank %d of %d workers (%s)', workers.rank, workers.count,
                 cfg.kvstore)
    trainer = workers.trainer(trainable, cfg.optimizer, cfg.optimizer_params())
    net.hybridize(static_alloc=True, static_shape=True)
    loader, sampler = make_loader(train_dataset, TrainTransform(cfg.data_shape,
                                                                **cfg.augment_options()),
                                  cfg.batch_size, shuffle=True, seed=cfg.seed,
                                  num_workers=cfg.num_workers, workers=cfg.worker_kind,
                                  shard=(workers.rank, workers.count),
                                  cache_bytes=int(cfg.cache_images * GIB))
    val_loader = None
    if val_dataset is not None and workers.chief:
        val_loader, _ = make_loader(val_dataset, ValTransform(cfg.data_shape), cfg.batch_size,
                                    shuffle=False, num_workers=cfg.num_workers,
                                    workers=cfg.worker_kind, drop_last=False)
    per_epoch = len(sampler)
    if per_epoch == 0:
        raise ValueError('%d training images make no full batch of %d'
                         % (len(train_dataset), cfg.batch_size))
    schedule = LRSchedule(cfg.lr, cfg.epochs * per_epoch, int(cfg.warmup_epochs * per_epoch),
                          cfg.lr_mode, [int(e * per_epoch) for e in cfg.lr_decay_epochs],
                          cfg.lr_decay)
    run = _Run(TrainStep(net, trainer, contexts, workers), loader, sampler, val_loader,
               schedule, _initial_state(net, cfg), trainer if workers.optimizer_state_here
               else None, workers, os.path.join(cfg.save_dir, 'last'))
    _resume(run, net, cfg, contexts)
    return run


def _initial_state(net, cfg: TrainConfig) -> dict:
    return {'epoch': cfg.start_epoch, 'best_map': -1.0, 'history': [],
            'config': _jsonable(cfg),
            'model': {'network': cfg.network, 'data_shape': cfg.data_shape,
                      'classes': list(net.classes), 'dataset': cfg.dataset,
                      'dataset_root': cfg.dataset_root, 'spec': spec_of(net)}}


def _resume(run: _Run, net, cfg: TrainConfig, contexts) -> None:
    if not cfg.resume:
        return
    if not checkpoint_exists(run.last_prefix):
        log.warning('no checkpoint at %s: starting from scratch', run.last_prefix)
        return
    check_resumable(run.last_prefix, net, cfg)
    run.state = load_checkpoint(run.last_prefix, net, run.trainer, contexts)
    if run.trainer is None:
        log.warning('%s: the optimizer state lives on the servers and restarts', cfg.kvstore)
    log.info('resumed from %s at epoch %d', run.last_prefix, run.state['epoch'])


def check_resumable(prefix: str, net, cfg: TrainConfig) -> None:
    """Refuse to resume the checkpoint at ``prefix`` into a run it was not: another network,
    model description, input size, dataset, or classes (compared by name: the same names in
    another order would give every class another's predictor).

    Raises
    ------
    ValueError
        Naming what differs, both values, and the fix.
    """
    with open(prefix + '.json') as f:
        saved = json.load(f).get('model', {})
    fix = ('resume with the settings it was trained with, or start a new run (another '
           '--save-prefix) that fine-tunes from it with --resume %s.params' % prefix)
    if [fold_name(c) for c in saved.get('classes', net.classes)] != \
            [fold_name(c) for c in net.classes]:
        same = sorted(map(fold_name, saved['classes'])) == sorted(map(fold_name, net.classes))
        raise ValueError('%s was trained on the classes %s and the data has %s%s: %s'
                         % (prefix, ', '.join(saved['classes']), ', '.join(net.classes),
                            ' (the same names in another order)' if same else '', fix))
    # (not the dataset's folder: data move)
    for key, ours in (('network', cfg.network), ('data_shape', cfg.data_shape),
                      ('dataset', cfg.dataset)):
        theirs = saved.get(key)
        if theirs not in (None, '') and ours not in (None, '') and theirs != ours:
            raise ValueError('%s was trained with %s %s; this run has %s: %s'
                             % (prefix, key.replace('_', ' '), theirs, ours, fix))
    ours, theirs = spec_of(net), saved.get('spec')
    if ours and theirs:
        # the decoding settings may change between runs; nothing else of the model may
        differing = sorted(k for k in set(ours) | set(theirs)
                           if k != 'decoding' and ours.get(k) != theirs.get(k))
        if differing:
            raise ValueError('%s holds another model (its description differs in %s): %s'
                             % (prefix, ', '.join(differing), fix))


def fit(net, train_dataset, val_dataset, cfg: TrainConfig, contexts=None, progress=None,
        on_step=None):
    """Train ``net`` on ``train_dataset``, validating on ``val_dataset``.

    With a ``dist_*`` KVStore (``cfg.kvstore``, processes started by ``scripts/launch.py``)
    every worker trains on its shard of each epoch (``kv.rank`` / ``kv.num_workers``), and
    ``cfg.batch_size`` is per worker: the combined batch is ``batch_size * workers``, and the
    update equals one process's with that batch (the loss is a mean over the combined batch's
    positives, so the learning rate needs no scaling for that). BatchNorm statistics are those
    of each device's part of the batch, as in every data-parallel MXNet training. Only rank 0
    validates and writes checkpoints; every worker resumes from the same ``last`` checkpoint.

    Parameters
    ----------
    net : ssd_zoo.SSD
        Initialized (or loaded) network.
    train_dataset, val_dataset : DetectionDataset
        Items ``(image, label)``; ``val_dataset`` may be None.
    cfg : TrainConfig
    contexts : list of mx.Context
        Devices; the batch is split across them. Default ``[mx.cpu()]``.
    progress : callable, optional
        ``progress(iterable, **tqdm_kwargs)`` (scripts pass ``tqdm``); the library only logs.
    on_step : callable, optional
        ``on_step(epoch, iteration, net)`` after every optimizer step.

    Returns
    -------
    list of dict
        One row per epoch: epoch, lr, losses, img/s, validation mAP.

    Raises
    ------
    TrainingDiverged
        When the loss is not finite; training stops at once, checkpoints stay as they were.
    """
    contexts = contexts or [mx.cpu()]
    run = _prepare(net, train_dataset, val_dataset, cfg, contexts)
    if run.state['epoch'] >= cfg.epochs:
        log.warning('%s is at epoch %d of %d: nothing to train (raise the number of epochs to '
                    'go on)', run.last_prefix, run.state['epoch'], cfg.epochs)
    for epoch in range(run.state['epoch'], cfg.epochs):
        row = _train_epoch(run, epoch, cfg, progress, on_step)
        if run.val_loader is not None and ((epoch + 1) % cfg.val_interval == 0
                                           or epoch + 1 == cfg.epochs):
            result = evaluate(net, run.val_loader, net.classes, (cfg.metric,), contexts[0])
            row['map'] = result[cfg.metric]['mAP']
        run.state['history'].append(row)
        run.state['epoch'] = epoch + 1
        log.info('epoch %d: %s', epoch + 1, ', '.join(
            '%s %.4g' % (k, v) for k, v in row.items() if isinstance(v, float)))
        if run.workers.chief:
            _save_epoch(net, run.trainer, run.state, row, cfg)
    return run.state['history']


def _train_epoch(run: _Run, epoch: int, cfg: TrainConfig, progress, on_step) -> dict:
    """One epoch of steps. Each step's losses are read while the next step runs (reading
    them at once would make the host wait for every step); the divergence check therefore
    happens one step late, before any checkpoint is written."""
    run.sampler.set_epoch(epoch)
    per_epoch = len(run.sampler)
    totals = [0.0, 0.0]
    seen, start = 0, time.perf_counter()
    batches = progress(run.loader, total=per_epoch, desc='epoch %d/%d' % (epoch + 1, cfg.epochs),
                       leave=False) if progress else run.loader
    pending, lr, skipped = None, cfg.lr, []

    def settle(previous):
        sums, at, at_lr = previous
        losses = TrainStep.losses(sums)
        if not losses.finite:
            raise TrainingDiverged(_diagnose(epoch, at, at_lr, losses, run.last_prefix if
                                             checkpoint_exists(run.last_prefix) else None))
        totals[0] += losses.cls_loss
        totals[1] += losses.box_loss

    for i, batch in enumerate(batches):
        images, labels = batch
        skipped += getattr(batch, 'skipped', [])
        lr = run.schedule(epoch * per_epoch + i)
        sums = run.step(images, labels, lr)
        if on_step:
            on_step(epoch, i, run.step.net)
        if pending is not None:
            settle(pending)
        pending = (sums, i, lr)
        seen += len(images)
        if progress and hasattr(batches, 'set_postfix') and i:
            batches.set_postfix(loss='%.3f' % (sum(totals) / i),
                                img_s='%.1f' % (seen / (time.perf_counter() - start)))
    if pending is not None:
        settle(pending)
    mx.nd.waitall()
    if skipped:
        log.warning('epoch %d: %d unreadable images skipped (replaced by the next readable '
                    'one): %s', epoch + 1, len(skipped), ', '.join(sorted(set(skipped))))
    steps = max(per_epoch, 1)
    return {'epoch': epoch + 1, 'lr': lr, 'cls_loss': totals[0] / steps,
            'box_loss': totals[1] / steps,
            'img_per_s': seen / (time.perf_counter() - start), 'map': None,
            'skipped_images': len(skipped)}


def _save_epoch(net, trainer, state, row, cfg):
    improved = row['map'] is not None and row['map'] > state['best_map']
    if improved:
        state['best_map'] = row['map']
    # 'last' first: it is what --resume reads, so a run killed while the other checkpoints
    # of the epoch are written still resumes from this epoch
    save_checkpoint(cfg.save_dir, 'last', net, trainer, state)
    if improved:
        save_checkpoint(cfg.save_dir, 'best', net, None, state)
    if cfg.save_interval and row['epoch'] % cfg.save_interval == 0:
        save_checkpoint(cfg.save_dir, 'epoch%04d' % row['epoch'], net, trainer, state)
    write_metrics_csv(os.path.join(cfg.save_dir, 'metrics.csv'), state['history'])
    try:
        from ..viz import plot_training_curves
        plot_training_curves(state['history'], os.path.join(cfg.save_dir, 'training.png'))
    except Exception as err:  # a picture must never stop training
        log.warning('could not draw the training curves: %s', err)


def write_metrics_csv(path: str, history: List[dict]) -> None:
    """One row per epoch (rewritten whole, atomically)."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w', newline='') as f:
            # every key of every row (a run resumed from an older checkpoint has fewer)
            names = list(dict.fromkeys(k for row in history for k in row))
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows(history)


def _jsonable(cfg: TrainConfig) -> dict:
    out = asdict(cfg)
    out['lr_decay_epochs'] = list(cfg.lr_decay_epochs)
    return out
