"""Composing an SSD on a classification backbone with GluonCV's ``get_ssd`` vocabulary: the
arguments (``features='auto'`` found by stride, default extras, anchor sizes and ratios) are
resolved into an :class:`~ssd_zoo.model.spec.SSDSpec`, which :func:`~ssd_zoo.build_ssd`
builds."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..defaults import ssd_ratios
from .anchors import paper_sizes
from .spec import AnchorSpec, DecodeSpec, ExtrasSpec, HeadSpec, SSDSpec, pop_decoding
from .ssd import SSD, build_ssd, norm_options  # noqa: F401 (SSD: the return type's docs)

__all__ = ['get_ssd', 'GET_SSD_KEYWORDS']

#: every keyword ``get_ssd`` takes (named in the error for any other)
GET_SSD_KEYWORDS = ('features', 'filters', 'sizes', 'ratios', 'steps', 'classes',
                    'anchor_style', 'predictor_kernel', 'min_depth', 'reduce_ratio',
                    'feature_strides', 'num_extras', 'strict_features', 'pretrained_base',
                    'root', 'ctx', 'norm_layer', 'norm_kwargs', 'nms_thresh', 'nms_topk',
                    'post_nms', 'nms_mode', 'network_name')

def get_ssd(network, base_size: int, features='auto', filters: Optional[Sequence[int]] = None,
            sizes: Optional[Sequence[float]] = None,
            ratios: Optional[Sequence[Sequence[float]]] = None,
            steps: Optional[Sequence[float]] = None, classes: Sequence[str] = (),
            anchor_style: str = 'ssd', predictor_kernel: int = 3, min_depth: int = 128,
            reduce_ratio: float = 1.0, feature_strides: Optional[Sequence[int]] = None,
            num_extras: Optional[int] = None, strict_features: bool = True,
            pretrained_base: Union[bool, str] = False,
            root: Optional[str] = None, ctx: Optional[mx.Context] = None, norm_layer=None,
            norm_kwargs: Optional[dict] = None, **kwargs) -> SSD:
    """Compose an SSD on a classification backbone (GluonCV's ``get_ssd`` vocabulary).

    Parameters
    ----------
    network : str or HybridBlock
        GluonCV classification-network name (``'resnet50_v1'``), ``'plainnet'``, a Gluon
        network, or a dedicated extractor name (``'vgg16_atrous'``, ``'resnet34_v1b'``).
    base_size : int
        Training input side.
    features : 'auto', sequence of str, str or HybridBlock
        ``'auto'``: the stage outputs at ``feature_strides`` (16/32; 8/16/32 for VGG), found by
        :func:`ssd_zoo.inspect_backbone`. A list names backbone outputs, checked by shape. A
        dedicated extractor name, or a block returning every head's map, is used as it is.
    filters : sequence of int, optional
        Channels of the stride-2 extra layers after the last feature; default: enough layers
        to reach 1x1 (or ``num_extras``).
    sizes, ratios, steps : optional
        Anchors in pixels at the base size: ``heads + 1`` sizes, ``heads`` ratio lists and
        steps. Defaults: the SSD paper's scales, ratios {1,2,1/2} / {1,2,1/2,3,1/3}, and steps
        equal to the base size over each map's side.
    classes : sequence of str
        Foreground class names.
    anchor_style, predictor_kernel, min_depth, reduce_ratio
        As the fields of :class:`~ssd_zoo.model.spec.SSDSpec`'s parts.
    feature_strides, num_extras, strict_features
        Strides ``'auto'`` takes (default 16/32, 8/16/32 for VGG); extra layers ``filters=None``
        adds (default: until 1x1); named features must end their stride.
    pretrained_base, root, ctx, norm_layer, norm_kwargs
        The backbone's ImageNet weights, where, and its normalization (:func:`build_ssd`).
    **kwargs
        Decoding settings (``nms_thresh``, ``nms_topk``, ``post_nms``, ``nms_mode``), and
        ``network_name``, the name recorded for ``--network``.

    Returns
    -------
    SSD
        Its :attr:`~ssd_zoo.SSD.spec` describes it whole (features resolved, anchors in pixels).

    Raises
    ------
    ValueError
        Unknown feature names (listing the nearest), features not getting coarser, or lists
        whose lengths disagree (naming the layer where they part).
    """
    from ..backbones import build_extractor

    if not classes:
        raise ValueError('an SSD needs at least one class name; pass classes=[...]')
    label = network if isinstance(network, str) else type(network).__name__
    name, decoding = _name_and_decoding(label, kwargs)
    network_kwargs = norm_options(norm_layer, norm_kwargs)
    own = [type(b).__name__ for b in (network, features) if isinstance(b, HybridBlock)]
    named = not isinstance(features, (str, HybridBlock)) or features == 'auto'
    if named:
        network, features, filters, real_steps = _plan(
            network, label, base_size, features, filters, feature_strides, num_extras,
            strict_features, pretrained_base, root, ctx, network_kwargs)
        steps = steps if steps is not None else real_steps
    extractor, names = build_extractor(network, base_size, features, filters or (),
                                       min_depth=min_depth, reduce_ratio=reduce_ratio,
                                       pretrained=pretrained_base and not named, root=root,
                                       ctx=ctx, network_kwargs=network_kwargs)
    anchors = _anchors(names, base_size, features, sizes, ratios, steps, anchor_style)
    spec = SSDSpec(label, base_size, features if not isinstance(features, HybridBlock) else (),
                   anchors, HeadSpec('conv', predictor_kernel),
                   ExtrasSpec('ssd', filters or (), min_depth, reduce_ratio), decoding=decoding,
                   name=name, options={'user_block': own[-1]} if own else {})
    return build_ssd(spec, classes, extractor=extractor)


def _name_and_decoding(label: str, kwargs: dict):
    """``(network name to record, DecodeSpec)`` from get_ssd's remaining keywords."""
    name = kwargs.pop('network_name', label)
    return name, DecodeSpec(**pop_decoding(kwargs, 'get_ssd', GET_SSD_KEYWORDS))


def _plan(network, label, base_size, features, filters, feature_strides, num_extras, strict,
          pretrained_base, root, ctx, network_kwargs):
    """``(backbone block, feature names, extra filters, steps)`` of named or ``'auto'``
    features, found on the backbone by stride (:mod:`ssd_zoo.backbones.discovery`)."""
    from ..backbones.discovery import inspect_backbone, plan_features
    from ..backbones.network import load_network
    network = load_network(network, pretrained_base, root, ctx, **network_kwargs)
    table = inspect_backbone(network, base_size, name=label)
    names, filters, steps = plan_features(table, features, filters, feature_strides, num_extras,
                                          strict)
    return network, names, filters, steps


def _anchors(names, base_size, features, sizes, ratios, steps, style) -> AnchorSpec:
    """The anchor part of the spec: the given lists, or the SSD paper's defaults, checked."""
    heads = len(names)
    sizes = sizes if sizes is not None else paper_sizes(heads, base_size)
    ratios = ratios if ratios is not None else ssd_ratios(heads)
    if steps is None:
        raise ValueError('features=%r brings its own layers, so its anchor steps cannot be '
                         'derived: pass steps=[...] (pixels at the base size, one per head)'
                         % (features if isinstance(features, str) else type(features).__name__))
    _check_head_lists(names, sizes, ratios, steps)
    return AnchorSpec(sizes, ratios, steps, style)


def _check_head_lists(names, sizes, ratios, steps) -> None:
    heads = len(names)
    problems = []
    if len(ratios) != heads:
        problems.append('%d ratio lists' % len(ratios))
    if len(steps) != heads:
        problems.append('%d steps' % len(steps))
    if len(sizes) != heads + 1:
        problems.append('%d sizes (need %d: one per head plus the next size of the last)'
                        % (len(sizes), heads + 1))
    if problems:
        first_bad = min(len(ratios), len(steps), len(sizes) - 1, heads)
        where = names[first_bad] if first_bad < heads else 'after %s' % names[-1]
        raise ValueError('%d feature layers (%s) but %s; the lists part at layer %d (%s)'
                         % (heads, ', '.join(names), ', '.join(problems), first_bad, where))
