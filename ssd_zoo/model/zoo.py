"""The model zoo: names ``ssd_{size}_{backbone}_{dataset}`` -> networks, local weights."""
from __future__ import annotations

import difflib
import fnmatch
import logging
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import mxnet as mx

from .presets import PRESETS, Preset
from .ssd import SSD, get_ssd
from .weights import find_weights_file, load_weights

__all__ = ['get_model', 'list_models', 'lookup', 'dataset_classes', 'model_for_network',
           'register_networks', 'NETWORK_ALIASES']

log = logging.getLogger(__name__)

_REGISTRY: Dict[str, Tuple[Preset, str]] = {
    preset.model_name(dataset): (preset, dataset)
    for preset in PRESETS for dataset in preset.datasets}


def list_models(pattern: Optional[str] = None) -> List[str]:
    """Registered model names, optionally those containing ``pattern`` (or matching a glob).

    >>> list_models('resnet50')
    ['ssd_512_resnet50_v1_voc', 'ssd_512_resnet50_v1_coco', 'ssd_512_resnet50_v1_custom']
    """
    names = list(_REGISTRY)
    if pattern is None:
        return names
    if any(ch in pattern for ch in '*?['):
        return [n for n in names if fnmatch.fnmatch(n, pattern)]
    return [n for n in names if pattern in n]


def lookup(name: str) -> Tuple[Preset, str]:
    """The preset row and dataset of a model name; unknown names fail with the closest ones."""
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    # GluonCV also spells 'mobilenet1.0' as 'mobilenet1_0' in function names
    for candidate in _REGISTRY:
        if candidate.replace('.', '_') == key.replace('.', '_'):
            return _REGISTRY[candidate]
    close = difflib.get_close_matches(key, list(_REGISTRY), n=5, cutoff=0.5)
    raise ValueError('unknown model %r; closest: %s. ssd_zoo.list_models() lists all %d'
                     % (name, ', '.join(close) or '(none)', len(_REGISTRY)))


def dataset_classes(dataset: str) -> List[str]:
    """Class names of a standard dataset (``'voc'``: 20, ``'coco'``: 80)."""
    if dataset == 'voc':
        from gluoncv.data import VOCDetection
        return list(VOCDetection.CLASSES)
    if dataset == 'coco':
        from gluoncv.data import COCODetection
        return list(COCODetection.CLASSES)
    raise ValueError('dataset %r has no standard classes; pass classes=[...]' % dataset)


def get_model(name: str, pretrained: Union[bool, str] = False,
              pretrained_base: Union[bool, str] = True, classes: Optional[Sequence[str]] = None,
              root: Optional[str] = None, ctx: Optional[mx.Context] = None, **kwargs) -> SSD:
    """Build a zoo SSD, optionally with its weights.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`, e.g. ``'ssd_512_resnet50_v1_voc'``.
    pretrained : bool or str
        ``True``: your ``<root>/<name>.params``, else GluonCV's published weights from its
        model store (``<root>/<name>-<sha1[:8]>.params`` when its SHA-1 is right, else
        downloaded and checked: :func:`ssd_zoo.weights.find_weights_file`); a string: that
        weights file. Files saved by ssd_zoo and by GluonCV's ``save_parameters`` for the
        same preset both load.
    pretrained_base : bool or str
        Load the backbone's ImageNet weights the same way; ignored when ``pretrained`` is
        set.
    classes : sequence of str, optional
        Foreground classes; required for ``*_custom`` models, defaults to the dataset's.
    root : str, optional
        Folder of weight files, default ``$MXNET_HOME/models`` (``~/.mxnet/models``).
    ctx : mx.Context, optional
        Device of the loaded weights.
    **kwargs
        Passed to :class:`ssd_zoo.SSD` (``nms_thresh``, ``nms_topk``, ``post_nms``,
        ``nms_mode``).

    Returns
    -------
    SSD
        Parameters are initialized when weights were loaded; otherwise call ``initialize()``.

    Raises
    ------
    ValueError
        Unknown name (with the closest names), missing classes for a custom model.
    FileNotFoundError
        A weights file is not where it is looked for (the message names the expected file).
    """
    preset, dataset = lookup(name)
    if classes is None:
        if dataset == 'custom':
            raise ValueError('%s is a custom model: pass classes=[...] with your class names '
                             '(scripts: --classes a,b,c)' % name)
        classes = dataset_classes(dataset)
    net = get_ssd(preset.network_name, preset.base_size, preset.features, preset.filters,
                  preset.sizes_for(dataset), preset.ratios, preset.steps, classes,
                  anchor_style=preset.anchor_style, predictor_kernel=preset.predictor_kernel,
                  min_depth=preset.min_depth, reduce_ratio=preset.reduce_ratio,
                  pretrained_base=False if pretrained else pretrained_base, root=root, ctx=ctx,
                  strict_features=False, network_name=preset.backbone,
                  **kwargs)  # rows are checked against GluonCV
    net.name_in_zoo = preset.model_name(dataset)
    if pretrained:
        path = pretrained if isinstance(pretrained, str) else find_weights_file(
            net.name_in_zoo, root)
        load_weights(net, path, ctx)
    return net


#: short names that mean a preset backbone
NETWORK_ALIASES = {'vgg16': 'vgg16_atrous'}

#: network names built by another family of models: name -> (builder, family description)
_FAMILIES: Dict[str, Tuple[Callable, str]] = {}


def register_networks(names: Sequence[str], build: Callable, family: str) -> None:
    """Let :func:`model_for_network` build ``names`` with ``build(network, data_shape,
    classes, **kwargs)``.

    The legacy symbolic API registers the MXNet example's networks (``vgg16_reduced``,
    ``resnet101``, ...) when :mod:`ssd_zoo.symbol` is imported, so the zoo never depends on
    it; the scripts and the CLI import it.
    """
    for name in names:
        _FAMILIES[name] = (build, family)


def model_for_network(network: str, data_shape: int, classes: Sequence[str],
                      dataset: str = 'custom', **kwargs) -> SSD:
    """The SSD a training script means by ``--network NAME --data-shape S``.

    A name registered by :func:`register_networks` is built by its family (the MXNet
    example's names mean its legacy networks once :mod:`ssd_zoo.symbol` is imported).
    Otherwise the preset ``ssd_<S>_<NAME>_<dataset>`` if there is one (``dataset`` voc/coco
    with their own classes), else ``ssd_<S>_<NAME>_custom`` with ``classes``. Any other
    GluonCV classification network is composed with :func:`ssd_zoo.get_ssd` and
    ``features='auto'``.
    """
    if network in _FAMILIES:
        build, _ = _FAMILIES[network]
        return build(network, data_shape, classes, **kwargs)
    backbone = NETWORK_ALIASES.get(network, network)
    if backbone != network:
        log.info('network %s means the %s preset backbone', network, backbone)
    for candidate in ('ssd_%d_%s_%s' % (data_shape, backbone, dataset),
                      'ssd_%d_%s_custom' % (data_shape, backbone)):
        if candidate in _REGISTRY:
            own = candidate.endswith(('_voc', '_coco'))
            return get_model(candidate, classes=None if own else classes, **kwargs)
    sizes = sorted({p.base_size for p in PRESETS if p.backbone == backbone})
    if sizes:
        log.info('no %d preset for %s (presets at %s): composing one with features=auto',
                 data_shape, backbone, sizes)
    return get_ssd(backbone, data_shape, 'auto', classes=classes,
                   **{k: v for k, v in kwargs.items() if k != 'pretrained'})
