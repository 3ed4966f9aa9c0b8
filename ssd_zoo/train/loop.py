"""The training loop: multi-device SGD/Adam on the MultiBoxTarget loss, with checkpoints that
resume exactly, divergence detection, per-epoch metrics (CSV) and a training-curve picture."""
from __future__ import annotations

import csv
import logging
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from ..data.loader import make_loader
from ..data.transforms import TrainTransform, ValTransform, normalize_batch
from ..evaluation import evaluate
from .checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from .loss import SSDMultiBoxLoss, to_multibox_labels
from .schedule import LRSchedule

__all__ = ['TrainConfig', 'TrainingDiverged', 'fit']

log = logging.getLogger(__name__)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the message says where and what to try."""


@dataclass
class TrainConfig:
    """Everything the loop needs besides the network and the data (the scripts' flags)."""

    epochs: int = 10
    batch_size: int = 16
    data_shape: int = 300
    optimizer: str = 'sgd'
    lr: float = 0.001
    momentum: float = 0.9
    wd: float = 5e-4
    lr_mode: str = 'step'
    lr_decay: float = 0.1
    lr_decay_epochs: Sequence[int] = ()
    warmup_epochs: float = 0.0
    save_dir: str = 'runs/ssd'
    save_interval: int = 1
    val_interval: int = 1
    seed: int = 0
    num_workers: int = 0
    freeze: Optional[str] = None
    kvstore: str = 'device'
    augment: dict = field(default_factory=dict)
    metric: str = 'voc07'
    resume: bool = False
    start_epoch: int = 0
    network: str = ''


def _optimizer_params(cfg: TrainConfig) -> dict:
    params = {'learning_rate': cfg.lr, 'wd': cfg.wd}
    if cfg.optimizer in ('sgd', 'nag'):
        params['momentum'] = cfg.momentum
    return params


def _freeze(net, pattern: Optional[str]) -> List[str]:
    """Set ``grad_req='null'`` on parameters whose name matches ``pattern``; returns them."""
    if not pattern:
        return []
    regex = re.compile(pattern)
    frozen = [name for name, p in net.collect_params().items() if regex.search(name)]
    if not frozen:
        raise ValueError('--freeze %r matches no parameter (names look like %s)'
                         % (pattern, list(net.collect_params().keys())[:3]))
    for name in frozen:
        net.collect_params()[name].grad_req = 'null'
    return frozen


def _split(array: np.ndarray, contexts, dtype):
    parts = np.array_split(array, len(contexts))
    return [mx.nd.array(part, ctx=c, dtype=dtype) for part, c in zip(parts, contexts)]


#: KVStore key of the per-step sums (far above the Trainer's parameter indices)
SUMS_KEY = 10 ** 7


class _Workers:
    """This process's place among the data-parallel workers, and the KVStore they share.

    For ``dist_sync`` / ``dist_device_sync`` the Trainer only aggregates gradients on the
    servers (``update_on_kvstore=False``) and every worker runs the same optimizer step on the
    same sum, so their weights stay identical. The positives and loss sums of the *combined*
    batch are summed on the servers too, and every worker divides its loss by that count: the
    update then equals that of one process with the combined batch, and every worker reports
    the same loss. ``dist_async`` keeps MXNet's server-side updates and each worker normalizes
    by its own positives.
    """

    def __init__(self, kvstore: str):
        self.distributed = kvstore.startswith('dist')
        self.kvstore = mx.kv.create(kvstore) if self.distributed else kvstore
        self.rank = self.kvstore.rank if self.distributed else 0
        self.count = self.kvstore.num_workers if self.distributed else 1
        self.synchronous = self.distributed and 'async' not in kvstore
        if self.synchronous:
            self._sums = mx.nd.zeros((3,))
            self.kvstore.init(SUMS_KEY, self._sums)

    @property
    def optimizer_state_here(self) -> bool:
        """False for ``dist_async``: the servers run the optimizer and hold its state, so
        checkpoints carry the weights only and a resumed run restarts the optimizer."""
        return not self.distributed or self.synchronous

    @property
    def chief(self) -> bool:
        """Rank 0 validates, logs the mAP and writes the checkpoints."""
        return self.rank == 0

    def trainer_kwargs(self) -> dict:
        return dict(kvstore=self.kvstore, update_on_kvstore=False if self.synchronous else None)

    def sum_over_workers(self, values: Sequence[float]) -> List[float]:
        """``[positives, class loss, box loss]`` summed over the workers (this worker's own
        when not synchronous)."""
        if not self.synchronous:
            return list(values)
        self._sums[:] = mx.nd.array(values)
        self.kvstore.push(SUMS_KEY, self._sums)
        self.kvstore.pull(SUMS_KEY, out=self._sums)
        return [float(v) for v in self._sums.asnumpy()]


class _BroadcastFirstTrainer(gluon.Trainer):
    """A Trainer whose initial weight broadcast completes before any gradient is pushed.

    With ``update_on_kvstore=False`` a key of the KVStore first holds the weights (rank 0's,
    pulled by every worker) and then the summed gradients. The pull of the weights and the
    first gradient push use different buffers, so MXNet's engine may send the push first;
    when both workers' pushes reach the server before a worker's pull, that worker receives
    the gradient sum as its weights. Measured here (mxnet 1.9.1, CPU): one run in four
    started from corrupted weights, identically on both workers, and drifted from the
    single-process result. Waiting after the broadcast removes the race (0 in 14 runs).
    """

    def _init_params(self):
        super()._init_params()
        mx.nd.waitall()


def _diagnose(epoch, iteration, lr, cls_loss, box_loss, last_checkpoint):
    part = 'class' if not math.isfinite(cls_loss) else 'box'
    return ('the %s loss became %s at epoch %d, iteration %d (learning rate %.3g; class loss '
            '%.4g, box loss %.4g). Likely causes: a learning rate too high for this batch size '
            '(try a tenth of it, or a longer warmup), or labels with empty or out-of-image '
            'boxes. Last good checkpoint: %s'
            % (part, cls_loss if part == 'class' else box_loss, epoch, iteration, lr, cls_loss,
               box_loss, last_checkpoint or 'none yet'))


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
    if cfg.batch_size % len(contexts):
        raise ValueError('batch size %d does not split evenly over %d devices'
                         % (cfg.batch_size, len(contexts)))
    net.collect_params().reset_ctx(contexts)
    frozen = _freeze(net, cfg.freeze)
    if frozen:
        log.info('frozen %d parameters matching %r', len(frozen), cfg.freeze)
    trainable = {k: p for k, p in net.collect_params().items() if p.grad_req != 'null'}
    workers = _Workers(cfg.kvstore)
    if workers.distributed:
        log.info('this process is rank %d of %d workers (%s)', workers.rank, workers.count,
                 cfg.kvstore)
    trainer_class = _BroadcastFirstTrainer if workers.synchronous else gluon.Trainer
    trainer = trainer_class(trainable, cfg.optimizer, _optimizer_params(cfg),
                            **workers.trainer_kwargs())
    loss_fn = SSDMultiBoxLoss()
    loss_fn.hybridize()
    net.hybridize(static_alloc=True, static_shape=True)

    transform = TrainTransform(cfg.data_shape, **cfg.augment)
    loader, sampler = make_loader(train_dataset, transform, cfg.batch_size, shuffle=True,
                                  seed=cfg.seed, num_workers=cfg.num_workers,
                                  shard=(workers.rank, workers.count))
    val_loader = None
    if val_dataset is not None and workers.chief:
        val_loader, _ = make_loader(val_dataset, ValTransform(cfg.data_shape), cfg.batch_size,
                                    shuffle=False, num_workers=cfg.num_workers,
                                    drop_last=False)
    per_epoch = len(sampler)
    if per_epoch == 0:
        raise ValueError('%d training images make no full batch of %d'
                         % (len(train_dataset), cfg.batch_size))
    schedule = LRSchedule(cfg.lr, cfg.epochs * per_epoch, int(cfg.warmup_epochs * per_epoch),
                          cfg.lr_mode, [int(e * per_epoch) for e in cfg.lr_decay_epochs],
                          cfg.lr_decay)

    state = {'epoch': cfg.start_epoch, 'best_map': -1.0, 'history': [],
             'config': _jsonable(cfg),
             'model': {'network': cfg.network, 'data_shape': cfg.data_shape,
                       'classes': list(net.classes)}}
    last_prefix = os.path.join(cfg.save_dir, 'last')
    saved_trainer = trainer if workers.optimizer_state_here else None
    if cfg.resume and checkpoint_exists(last_prefix):
        state = load_checkpoint(last_prefix, net, saved_trainer, contexts)
        if saved_trainer is None:
            log.warning('%s: the optimizer state lives on the servers and restarts', cfg.kvstore)
        log.info('resumed from %s at epoch %d', last_prefix, state['epoch'])
    elif cfg.resume:
        log.warning('no checkpoint at %s: starting from scratch', last_prefix)

    for epoch in range(state['epoch'], cfg.epochs):
        sampler.set_epoch(epoch)
        sums = np.zeros(3)
        seen, start = 0, time.perf_counter()
        batches = progress(loader, total=per_epoch, desc='epoch %d/%d' % (epoch + 1, cfg.epochs),
                           leave=False) if progress else loader
        for i, (images, labels) in enumerate(batches):
            lr = schedule(epoch * per_epoch + i)
            trainer.set_learning_rate(lr)
            xs = _split(images, contexts, 'uint8')
            ys = _split(labels, contexts, 'float32')
            with autograd.record():
                parts = []
                for x, y in zip(xs, ys):
                    cls_preds, box_preds, anchors = net(normalize_batch(x))
                    targets = to_multibox_labels(y, x.shape[2], x.shape[1])
                    parts.append(loss_fn(cls_preds, box_preds, anchors, targets))
                # positives and loss sums of the combined batch (every device, every worker)
                local = [sum(float(p[k].sum().asscalar()) for p in parts) for k in (2, 0, 1)]
                pos_total, cls_total, box_total = workers.sum_over_workers(local)
                num_pos = max(1.0, pos_total)
                losses = [(c.sum() + b.sum()) / num_pos for c, b, _ in parts]
            cls_value, box_value = cls_total / num_pos, box_total / num_pos
            if not (math.isfinite(cls_value) and math.isfinite(box_value)):
                raise TrainingDiverged(_diagnose(epoch, i, lr, cls_value, box_value,
                                                 last_prefix if checkpoint_exists(last_prefix)
                                                 else None))
            autograd.backward(losses)
            trainer.step(1)
            if on_step:
                on_step(epoch, i, net)
            sums += (cls_value, box_value, 1)
            seen += len(images)
            if progress and hasattr(batches, 'set_postfix'):
                batches.set_postfix(loss='%.3f' % ((sums[0] + sums[1]) / sums[2]),
                                    img_s='%.1f' % (seen / (time.perf_counter() - start)))
        mx.nd.waitall()
        row = {'epoch': epoch + 1, 'lr': lr, 'cls_loss': sums[0] / sums[2],
               'box_loss': sums[1] / sums[2],
               'img_per_s': seen / (time.perf_counter() - start), 'map': None}
        if val_loader is not None and ((epoch + 1) % cfg.val_interval == 0
                                       or epoch + 1 == cfg.epochs):
            result = evaluate(net, val_loader, net.classes, (cfg.metric,), contexts[0])
            row['map'] = result[cfg.metric]['mAP']
        state['history'].append(row)
        state['epoch'] = epoch + 1
        log.info('epoch %d: %s', epoch + 1, ', '.join(
            '%s %.4g' % (k, v) for k, v in row.items() if isinstance(v, float)))
        if workers.chief:
            _save_epoch(net, saved_trainer, state, row, cfg)
    return state['history']


def _save_epoch(net, trainer, state, row, cfg):
    improved = row['map'] is not None and row['map'] > state['best_map']
    if improved:
        state['best_map'] = row['map']
        save_checkpoint(cfg.save_dir, 'best', net, None, state)
    if cfg.save_interval and row['epoch'] % cfg.save_interval == 0:
        save_checkpoint(cfg.save_dir, 'epoch%04d' % row['epoch'], net, trainer, state)
    save_checkpoint(cfg.save_dir, 'last', net, trainer, state)
    write_metrics_csv(os.path.join(cfg.save_dir, 'metrics.csv'), state['history'])
    try:
        from ..viz import plot_training_curves
        plot_training_curves(state['history'], os.path.join(cfg.save_dir, 'training.png'))
    except Exception as err:  # a picture must never stop training
        log.warning('could not draw the training curves: %s', err)


def write_metrics_csv(path: str, history: List[dict]) -> None:
    """One row per epoch (rewritten whole, atomically)."""
    tmp = path + '.tmp'
    with open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0].keys()))
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def _jsonable(cfg: TrainConfig) -> dict:
    out = asdict(cfg)
    out['lr_decay_epochs'] = list(cfg.lr_decay_epochs)
    return out
