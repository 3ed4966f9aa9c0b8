"""The model zoo: names ``ssd_{size}_{backbone}_{dataset}`` -> networks, local weights."""
from __future__ import annotations

import fnmatch
import logging
from typing import List, Optional, Sequence, Tuple, Union

import mxnet as mx

from .compose import get_ssd
from .presets import PRESETS, Preset
from .registry import REGISTRY
from .spec import SSDSpec, pop_decoding
from .ssd import SSD, build_ssd
from .weights import find_weights_file, load_weights

__all__ = ['get_model', 'list_models', 'is_model', 'lookup', 'model_spec', 'dataset_classes',
           'model_for_network', 'transferred_model']

log = logging.getLogger(__name__)


def _matches(name: str, pattern: str) -> bool:
    if any(ch in pattern for ch in '*?['):
        return fnmatch.fnmatch(name, pattern)
    return pattern in name


def list_models(pattern: Optional[str] = None, pretrained: Optional[bool] = None,
                exclude: Union[None, str, Sequence[str]] = None) -> List[str]:
    """Registered model names, in table order.

    Parameters
    ----------
    pattern : str, optional
        Keep the names containing it, or matching it as a glob (``'ssd_300_*_voc'``).
    pretrained : bool, optional
        True: only the names with published weights (:mod:`ssd_zoo.model.published`);
        False: only those without.
    exclude : str or sequence of str, optional
        Drop the names containing (or matching) any of these.

    Examples
    --------
    >>> list_models('resnet50')
    ['ssd_512_resnet50_v1_voc', 'ssd_512_resnet50_v1_coco', 'ssd_512_resnet50_v1_custom']
    >>> list_models('vgg16', pretrained=True, exclude='coco')
    ['ssd_300_vgg16_atrous_voc', 'ssd_512_vgg16_atrous_voc']
    """
    names = REGISTRY.names('model')
    if pattern is not None:
        names = [n for n in names if _matches(n, pattern)]
    if pretrained is not None:
        names = [n for n in names if REGISTRY.has('weights', n) == bool(pretrained)]
    if exclude:
        excluded = [exclude] if isinstance(exclude, str) else list(exclude)
        names = [n for n in names if not any(_matches(n, e) for e in excluded)]
    return names


def is_model(name: str) -> bool:
    """Whether ``name`` is a zoo model (spelling variants such as ``mobilenet1_0`` count)."""
    return REGISTRY.has('model', name)


def lookup(name: str) -> Tuple[Preset, str]:
    """The preset row and dataset of a model name; unknown names fail with the closest ones."""
    entry = _model_entry(name)
    return entry.info['preset'], entry.info['dataset']


def model_spec(name: str) -> SSDSpec:
    """The :class:`~ssd_zoo.model.spec.SSDSpec` of a zoo model."""
    return _model_entry(name).target


def _model_entry(name: str):
    try:
        return REGISTRY.get('model', name)
    except ValueError as err:
        raise ValueError('%s; ssd_zoo.list_models() lists them' % err) from None


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
              root: Optional[str] = None, ctx: Optional[mx.Context] = None,
              transfer: Optional[str] = None, norm_layer=None, norm_kwargs: Optional[dict] = None,
              **kwargs) -> SSD:
    """Build a zoo SSD, optionally with its weights (GluonCV's ``get_model`` keywords).

    Parameters
    ----------
    name : str
        A name from :func:`list_models`, e.g. ``'ssd_512_resnet50_v1_voc'``.
    pretrained : bool or str
        ``True``: your ``<root>/<name>.params``, else the published weights from GluonCV's
        model store (:func:`ssd_zoo.model.weights.find_weights_file`); a string: that weights
        file (ssd_zoo's or GluonCV's ``save_parameters`` format).
    pretrained_base : bool or str
        Load the backbone's ImageNet weights the same way; ignored when ``pretrained`` is set.
    classes : sequence of str, optional
        Foreground classes; required for ``*_custom`` models, defaults to the dataset's.
    root : str, optional
        Folder of weight files, default ``$MXNET_HOME/models`` (``~/.mxnet/models``).
    ctx : mx.Context, optional
        Device of the loaded weights.
    transfer : str, optional
        For a ``*_custom`` model, as GluonCV: start from the published ``voc`` or ``coco``
        model of the same preset and keep the predictors of the classes both share
        (``reset_class``).
    norm_layer, norm_kwargs : optional
        The backbone's normalization layer, as in GluonCV (``gluon.contrib.nn.SyncBatchNorm``
        with ``{'num_devices': N}``).
    **kwargs
        Decoding settings: ``nms_thresh``, ``nms_topk``, ``post_nms``, ``nms_mode``.

    Returns
    -------
    SSD
        Parameters are initialized when weights were loaded; otherwise call ``initialize()``.

    Raises
    ------
    ValueError
        Unknown name (with the closest names), missing classes for a custom model.
    TypeError
        An unknown keyword (naming the accepted ones).
    FileNotFoundError
        A weights file is not where it is looked for (the message names the expected file).
    """
    entry = _model_entry(name)
    decoding = pop_decoding(kwargs, 'get_model', GET_MODEL_KEYWORDS)
    if transfer:
        return _transferred(entry, transfer, classes, root, ctx, norm_layer, norm_kwargs)
    dataset = entry.info['dataset']
    if classes is None:
        if dataset == 'custom':
            raise ValueError('%s is a custom model: pass classes=[...] with your class names '
                             '(scripts: --classes a,b,c)' % entry.name)
        classes = dataset_classes(dataset)
    spec = entry.target.replace(decoding=decoding) if decoding else entry.target
    net = build_ssd(spec, classes, pretrained_base=False if pretrained else pretrained_base,
                    root=root, ctx=ctx, norm_layer=norm_layer, norm_kwargs=norm_kwargs)
    net.name_in_zoo = entry.name
    if pretrained:
        path = pretrained if isinstance(pretrained, str) else find_weights_file(
            net.name_in_zoo, root)
        load_weights(net, path, ctx)
    return net


def _transferred(entry, source: str, classes, root, ctx, norm_layer, norm_kwargs) -> SSD:
    """GluonCV's ``transfer=``: the published ``source`` model, its classes reset to
    ``classes`` keeping the weights of the shared ones."""
    if not classes:
        raise ValueError('transfer=%r: pass classes=[...], the classes to fine-tune to'
                         % source)
    base = entry.name.rsplit('_', 1)[0]
    candidate = '%s_%s' % (base, source)
    if not REGISTRY.has('weights', candidate):
        raise ValueError('transfer=%r: %s has no published weights; models with weights: %s'
                         % (source, candidate, ', '.join(list_models(base, pretrained=True))
                            or '(none for this preset)'))
    net = transferred_model(candidate, classes, root=root, ctx=ctx, norm_layer=norm_layer,
                            norm_kwargs=norm_kwargs)
    net.name_in_zoo = entry.name
    return net


def transferred_model(published: str, classes: Sequence[str], **kwargs) -> SSD:
    """The ``published`` zoo model with its weights, its classes reset to ``classes``; the
    classes both have keep their predictors (GluonCV's ``transfer``). ``kwargs`` go to
    :func:`get_model`."""
    net = get_model(published, pretrained=True, **kwargs)
    net.reset_class(list(classes), reuse_weights=[c for c in classes if c in net.classes])
    return net


#: every keyword ``get_model`` takes (named in the error for any other)
GET_MODEL_KEYWORDS = ('pretrained', 'pretrained_base', 'classes', 'root', 'ctx', 'transfer',
                      'norm_layer', 'norm_kwargs', 'nms_thresh', 'nms_topk', 'post_nms',
                      'nms_mode')


def model_for_network(network: str, data_shape: int, classes: Sequence[str],
                      dataset: str = 'custom', **kwargs) -> SSD:
    """The SSD a training script means by ``--network NAME --data-shape S``.

    A ``legacy`` name of the registry (the MXNet example's networks) is built by
    :mod:`ssd_zoo.symbol.gluon`. Otherwise the preset ``ssd_<S>_<NAME>_<dataset>`` if there
    is one (``dataset`` voc/coco with their own classes), else ``ssd_<S>_<NAME>_custom`` with
    ``classes``. Any other GluonCV classification network is composed with
    :func:`ssd_zoo.get_ssd` and ``features='auto'``.
    """
    if REGISTRY.has('legacy', network):
        return REGISTRY.get('legacy', network).load()(
            SSDSpec.legacy(network, data_shape), classes, **kwargs)
    backbone = REGISTRY.canonical('network', network)
    if backbone != network:
        log.info('network %s means the %s preset backbone', network, backbone)
    for candidate in ('ssd_%d_%s_%s' % (data_shape, backbone, dataset),
                      'ssd_%d_%s_custom' % (data_shape, backbone)):
        if is_model(candidate):
            own = candidate.endswith(('_voc', '_coco'))
            return get_model(candidate, classes=None if own else classes, **kwargs)
    sizes = sorted({p.base_size for p in PRESETS if p.backbone == backbone})
    if sizes:
        log.info('no %d preset for %s (presets at %s): composing one with features=auto',
                 data_shape, backbone, sizes)
    return get_ssd(backbone, data_shape, 'auto', classes=classes,
                   **{k: v for k, v in kwargs.items() if k != 'pretrained'})
