"""A training run from names: the datasets, the network ``--network`` means, its starting
weights, then the loop (``ssd-zoo train``, ``scripts/run_main.py`` and the tests call
:func:`train_model`). What it has to say goes to ``report`` (the log by default; the commands
print)."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from ..data import build_datasets
from ..data.classes import fold_name
from ..deploy.model_info import read_model_info
from ..model.registry import REGISTRY
from ..model.weights import load_weights
from ..model.zoo import model_for_network, transferred_model
from .loop import TrainConfig, fit

log = logging.getLogger(__name__)

__all__ = ['TrainRequest', 'train_model', 'default_lr', 'LEGACY_LR', 'default_save_dir',
           'TrainingUsageError']


class TrainingUsageError(ValueError):
    """A combination of options that cannot train (the commands show it as a usage error)."""


def is_legacy(network: str) -> bool:
    """Whether ``network`` names one of the MXNet example's networks."""
    return REGISTRY.has('legacy', network)

#: learning rate of the MXNet example's networks: their extra layers have no BatchNorm, and
#: from scratch 3e-3 made resnet18's class loss oscillate between 120 and 150 (1e-3: 29 -> 20)
LEGACY_LR = 1e-3


def default_lr(network: str) -> float:
    """``TrainConfig``'s rate, or :data:`LEGACY_LR` for the MXNet example's networks."""
    return LEGACY_LR if is_legacy(network) else TrainConfig.lr


def default_save_dir(network: str, data_shape: int, dataset: str) -> str:
    return os.path.join('runs', 'ssd_%d_%s_%s' % (data_shape, network, dataset))


@dataclass
class TrainRequest:
    """Which classes and starting weights (the config says the data and how to train)."""

    classes: Optional[Sequence[str]] = None
    pretrained_base: bool = False
    #: the MXNet example's networks: a Module checkpoint ``PREFIX-%04d.params`` of the base
    pretrained: Optional[str] = None
    pretrained_epoch: int = 0
    #: fine-tune the pretrained ``voc``/``coco`` zoo model with ``reset_class``
    transfer: Optional[str] = None
    #: start from this weights file (GluonCV-style ``--resume FILE``)
    weights: Optional[str] = None
    #: stop at a box without area or an unreadable image instead of dropping/skipping it
    strict: bool = False


def _build_net(cfg: TrainConfig, request: TrainRequest, classes: List[str], report):
    if request.transfer:
        return transferred_model('ssd_%d_%s_%s' % (cfg.data_shape, cfg.network,
                                                   request.transfer), classes)
    net = model_for_network(cfg.network, cfg.data_shape, classes, cfg.dataset or 'shapes',
                            pretrained_base=request.pretrained_base)
    if request.pretrained:
        if not is_legacy(cfg.network):
            raise TrainingUsageError('--pretrained PREFIX loads Module checkpoints of the MXNet '
                                     'example networks; for %s use --pretrained-base'
                                     % cfg.network)
        from ..symbol.gluon import load_base_checkpoint
        count = load_base_checkpoint(net, request.pretrained, request.pretrained_epoch)
        report('loaded %d base-network parameters from %s-%04d.params'
              % (count, request.pretrained, request.pretrained_epoch))
    net.initialize()
    if request.weights:
        _start_from(net, request.weights, classes, report)
    return net


def _start_from(net, path: str, classes: List[str], report=log.info) -> None:
    """Load a weights file whose model description may list other classes (or the same in
    another order): its predictors are loaded for its own classes, then paired with the
    data's by name (``reset_class``), so that no class inherits another's weights."""
    prefix = path[:-len('.params')] if path.endswith('.params') else path
    try:
        trained = list(read_model_info(prefix)['classes'])
    except (FileNotFoundError, KeyError):
        trained = None  # a bare weights file: its class count is checked when loading
    if trained is None or [fold_name(c) for c in trained] == [fold_name(c) for c in classes]:
        load_weights(net, path)
        return
    net.reset_class(trained)
    load_weights(net, path)
    by_name = {fold_name(c): c for c in trained}
    kept = {c: by_name[fold_name(c)] for c in classes if fold_name(c) in by_name}
    net.reset_class(classes, reuse_weights=kept)
    report('%s was trained on %s: its weights paired with the data\'s classes by name (kept %s; '
          'new %s)' % (path, ', '.join(trained), ', '.join(kept) or 'none',
                       ', '.join(c for c in classes if c not in kept) or 'none'))


def train_model(cfg: TrainConfig, request: TrainRequest, contexts, progress=None,
                report: Callable[[str], None] = log.info, data_progress=None):
    """Build the datasets (``cfg.dataset``, ``cfg.dataset_root``) and the network, then
    :func:`ssd_zoo.train.fit`.

    ``progress`` is the loop's progress bar (tqdm, or None), ``data_progress`` a
    ``report(done, total)`` callback while ``shapes`` is generated, ``report`` takes each
    line the run has to say.

    Returns
    -------
    (net, history, (train, val))
    """
    train, val = build_datasets(cfg.dataset or 'shapes', cfg.dataset_root or None,
                                request.classes, data_progress, request.strict)
    report('data: %d training / %d validation images, classes %s'
          % (len(train), len(val), ', '.join(train.classes)))
    for name, part in (('training', train), ('validation', val)):
        if part.report:
            report('%s data: %s' % (name, ', '.join('%d %s' % (n, k) for k, n in
                                                    sorted(part.report.items()))))
    net = _build_net(cfg, request, train.classes, report)
    smallest = net.min_input_size()
    if cfg.data_shape < smallest:
        raise TrainingUsageError('--data-shape %d: %s needs at least %d pixels a side (below '
                                 'that its last heads get no feature map); use --data-shape '
                                 '%d or more' % (cfg.data_shape, cfg.network, smallest,
                                                 smallest))
    report('training %s for %d epochs on %s; checkpoints in %s'
          % (getattr(net, 'name_in_zoo', cfg.network), cfg.epochs,
             ', '.join(str(c) for c in contexts), cfg.save_dir))
    history = fit(net, train, val, cfg, contexts, progress=progress)
    skipped = sum(row.get('skipped_images', 0) for row in history)
    if skipped:
        report('%d unreadable training images were skipped over the epochs (named in the log); '
              '--strict-data stops at the first instead' % skipped)
    return net, history, (train, val)
