"""Training as the scripts run it: the data, the network ``--network`` means, the config, the
loop (``scripts/train_ssd.py`` and ``scripts/run_main.py`` both call :func:`train_model`)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

from tqdm import tqdm

from ..data import build_datasets
from ..data.classes import fold_name
from ..deploy.model_info import read_model_info
from ..model.weights import load_weights
from ..model.zoo import get_model, model_for_network
from ..symbol.gluon import load_base_checkpoint
from ..train import TrainConfig, fit
from .options import UsageError, counting_bar, is_legacy

__all__ = ['TrainRequest', 'train_model', 'default_lr', 'LEGACY_LR', 'default_save_dir']

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
    """Where the data and the starting weights come from (the config says how to train)."""

    dataset: str = 'shapes'
    dataset_root: Optional[str] = None
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


def _build_net(cfg: TrainConfig, request: TrainRequest, classes: List[str]):
    if request.transfer:
        net = get_model('ssd_%d_%s_%s' % (cfg.data_shape, cfg.network, request.transfer),
                        pretrained=True)
        net.reset_class(classes, reuse_weights=[c for c in classes if c in net.classes])
        return net
    net = model_for_network(cfg.network, cfg.data_shape, classes, request.dataset,
                            pretrained_base=request.pretrained_base)
    if request.pretrained:
        if not is_legacy(cfg.network):
            raise UsageError('--pretrained PREFIX loads Module checkpoints of the MXNet example '
                             'networks; for %s use --pretrained-base' % cfg.network)
        count = load_base_checkpoint(net, request.pretrained, request.pretrained_epoch)
        print('loaded %d base-network parameters from %s-%04d.params'
              % (count, request.pretrained, request.pretrained_epoch))
    net.initialize()
    if request.weights:
        _start_from(net, request.weights, classes)
    return net


def _start_from(net, path: str, classes: List[str]) -> None:
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
    print('%s was trained on %s: its weights paired with the data\'s classes by name (kept %s; '
          'new %s)' % (path, ', '.join(trained), ', '.join(kept) or 'none',
                       ', '.join(c for c in classes if c not in kept) or 'none'))


def train_model(cfg: TrainConfig, request: TrainRequest, contexts, progress=tqdm):
    """Build the datasets and the network, then :func:`ssd_zoo.train.fit`.

    Returns
    -------
    (net, history, (train, val))
    """
    with counting_bar('preparing data', disable=request.dataset != 'shapes') as report:
        train, val = build_datasets(request.dataset, request.dataset_root, request.classes,
                                    report, request.strict)
    print('data: %d training / %d validation images, classes %s'
          % (len(train), len(val), ', '.join(train.classes)))
    for name, part in (('training', train), ('validation', val)):
        if part.report:
            print('%s data: %s' % (name, ', '.join('%d %s' % (n, k) for k, n in
                                                    sorted(part.report.items()))))
    net = _build_net(cfg, request, train.classes)
    smallest = net.min_input_size()
    if cfg.data_shape < smallest:
        raise UsageError('--data-shape %d: %s needs at least %d pixels a side (below that its '
                         'last heads get no feature map); use --data-shape %d or more'
                         % (cfg.data_shape, cfg.network, smallest, smallest))
    print('training %s for %d epochs on %s; checkpoints in %s'
          % (getattr(net, 'name_in_zoo', cfg.network), cfg.epochs,
             ', '.join(str(c) for c in contexts), cfg.save_dir))
    history = fit(net, train, val, cfg, contexts, progress=progress)
    skipped = sum(row.get('skipped_images', 0) for row in history)
    if skipped:
        print('%d unreadable training images were skipped over the epochs (named in the log); '
              '--strict-data stops at the first instead' % skipped)
    return net, history, (train, val)
