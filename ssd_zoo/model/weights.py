"""Weight files on disk: where they are looked for, and loading them by parameter name.

Files written by ssd_zoo and by GluonCV's ``save_parameters`` for the same preset both load.
GluonCV files carry anchors as constants (``anchor_generators.*``); they are ignored, since
ssd_zoo computes anchors from the feature maps. Published weights come from GluonCV's model
store (:mod:`ssd_zoo.model_store`), downloaded only when ``pretrained=True`` asks for them.
"""
from __future__ import annotations

import glob
import logging
import os
from typing import Dict, Optional

import mxnet as mx

from .. import compat
from .model_store import default_root, get_model_file, published_sha1

__all__ = ['default_root', 'find_weights_file', 'load_weights', 'WeightsMismatchError']

log = logging.getLogger(__name__)

#: keys of GluonCV files that ssd_zoo deliberately does not store
IGNORED_PREFIXES = ('anchor_generators.',)


class WeightsMismatchError(ValueError):
    """A weights file does not fit the network it is loaded into."""


def find_weights_file(name: str, root: Optional[str] = None) -> str:
    """Path of the weights of a zoo or backbone model ``name`` (``pretrained=True``).

    ``<root>/<name>.params`` (a file of your own, e.g. written by ssd_zoo) is used as it is.
    Otherwise, for names GluonCV publishes weights for, GluonCV's model store is used
    (:func:`ssd_zoo.model_store.get_model_file`): ``<root>/<name>-<sha1[:8]>.params`` if its
    SHA-1 is the published one, else downloaded from ``$MXNET_GLUON_REPO``. ``root``
    defaults to ``$MXNET_HOME/models`` (``~/.mxnet/models``).

    Raises
    ------
    FileNotFoundError
        No file, and nothing published (ssd_zoo's own presets), or the store cannot be
        reached: the message names the file and the folder to put it in.
    """
    root = os.path.expanduser(root) if root else default_root()
    own = os.path.join(root, name + '.params')
    if os.path.isfile(own):
        return own
    if published_sha1(name) is not None:
        return get_model_file(name, root)
    versions = sorted(glob.glob(os.path.join(glob.escape(root), glob.escape(name) + '-*.params')))
    if versions:
        return versions[-1]
    raise FileNotFoundError(
        'no weights for %r in %s: GluonCV publishes none for it (it is one of ssd_zoo\'s own '
        'models, or not a model-store name), so train it and pass pretrained=<its .params '
        'file> (train_ssd.py: --resume FILE), or copy %s.params into %s'
        % (name, root, name, root))


def _align_backbone_prefix(loaded: Dict[str, mx.nd.NDArray], wanted: Dict[str, object],
                           prefix: str) -> Dict[str, mx.nd.NDArray]:
    """Rename ``features.<other prefix>rest`` keys to the model's ``features.<prefix>rest``.

    A backbone built by GluonCV after other networks in the same process gets a prefix such as
    ``resnetv12_`` instead of ``resnetv10_``; the rest of the name is what identifies a layer.
    """
    if not prefix:
        return loaded
    aligned = {}
    for key, value in loaded.items():
        if key not in wanted and key.startswith('features.') and '_' in key:
            rest = key[len('features.'):].split('_', 1)[1]
            candidate = 'features.' + prefix + rest
            if candidate in wanted:
                key = candidate
        aligned[key] = value
    return aligned


def _shape_fits(declared, stored) -> bool:
    """Whether a stored shape fits a declared one whose unknown dims (deferred init) are 0."""
    if declared is None:  # a traced (SymbolBlock) parameter whose shape is not inferred yet
        return True
    return len(declared) == len(stored) and all(d in (0, s) for d, s in zip(declared, stored))


def _class_count_hint(net, key, file_shape, path) -> str:
    if not key.startswith('class_predictors.'):
        return ''
    head = int(key.split('.')[1])
    per_cell = net.anchor_generators[head].num_anchors
    file_classes = file_shape[0] // per_cell - 1
    return (' The file was trained for %d classes and the network has %d: pass classes=[...] '
            'with the %d names it was trained on, or load it with its own classes and call '
            'net.reset_class(new_classes) to fine-tune.' % (file_classes, net.num_classes,
                                                            file_classes))


def load_weights(net, path: str, ctx: Optional[mx.Context] = None) -> None:
    """Load an ssd_zoo or GluonCV weights file into an SSD, matching parameters by name.

    Raises
    ------
    WeightsMismatchError
        Listing missing/unexpected parameter names, or naming a parameter whose shape differs
        (with the class counts when it is a class predictor).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('weights file %s does not exist' % path)
    loaded = mx.nd.load(path)
    if not isinstance(loaded, dict):
        raise WeightsMismatchError('%s holds unnamed arrays, not parameters saved by '
                                   'save_parameters' % path)
    loaded = {k.split(':', 1)[-1]: v for k, v in loaded.items()
              if not k.split(':', 1)[-1].startswith(IGNORED_PREFIXES)}
    params = compat.structural_params(net)
    params = {k: p for k, p in params.items() if not k.startswith(IGNORED_PREFIXES)}
    loaded = _align_backbone_prefix(loaded, params, getattr(net.features, 'backbone_prefix', ''))
    missing = sorted(set(params) - set(loaded))
    unexpected = sorted(set(loaded) - set(params))
    if missing or unexpected:
        raise WeightsMismatchError(
            '%s does not fit %s: %d parameters missing (%s) and %d unexpected (%s)'
            % (path, type(net).__name__, len(missing), ', '.join(missing[:5]), len(unexpected),
               ', '.join(unexpected[:5])))
    for key, param in params.items():
        value = loaded[key]
        if not _shape_fits(param.shape, value.shape):
            raise WeightsMismatchError(
                '%s: parameter %s has shape %s in the file but %s in the network.%s'
                % (path, key, value.shape, param.shape,
                   _class_count_hint(net, key, value.shape, path)))
    contexts = ctx if isinstance(ctx, (list, tuple)) else [ctx or mx.cpu()]
    for key, param in params.items():
        compat.load_param_value(param, loaded[key], contexts)
    log.info('loaded %d parameters from %s', len(params), path)
