"""Layers shared by the legacy SSD symbols: extra feature layers and the multibox head.

The API of MXNet's ``example/ssd/symbol/common.py``, with its defects fixed:

* feature layers are looked up by name with legacy aliases (``_plus12``) and a clear error
  listing the nearest names;
* ``num_channels`` is read, never mutated (the example popped from the caller's list);
* a ``[min, max]`` size range works (the example's branch failed on Python 3);
* extra layers get fixed names, so a network can be built twice in one process.
"""
from __future__ import annotations

import difflib
import math
import re
from typing import List, Sequence

import mxnet as mx

from ..model.anchors import paper_sizes

__all__ = ['resolve_layer', 'multi_layer_feature', 'multibox_layer', 'normalize_layers',
           'per_layer_sizes', 'per_layer_ratios', 'per_layer']

_PLUS = re.compile(r'^_plus(\d+)$')
_ADD_OPS = ('elemwise_add', '_plus', '_Plus', 'broadcast_add', '_add')


def resolve_layer(body: mx.sym.Symbol, name: str) -> mx.sym.Symbol:
    """The output of layer ``name`` in ``body``.

    ``name`` is a layer name (``relu4_3``), an output name (``relu4_3_output``) or a legacy
    counter name ``_plusN``: the N-th element-wise sum of the network in construction order,
    which is what MXNet's automatic naming gave it in a fresh process (the SSD example's
    ``_plus12`` is the last unit of stage 3 of a ResNet-50).

    Raises
    ------
    ValueError
        Unknown layer; the message lists the closest layer names.
    """
    internals = body.get_internals()
    outputs = internals.list_outputs()
    for candidate in (name, name + '_output'):
        if candidate in outputs:
            return internals[candidate]
    match = _PLUS.match(name)
    if match:
        sums = _sum_layers(body)
        index = int(match.group(1))
        if index < len(sums):
            return internals[sums[index] + '_output']
        raise ValueError('legacy layer %s: the network has only %d element-wise sums '
                         '(_plus0 .. _plus%d)' % (name, len(sums), len(sums) - 1))
    layers = [o[:-len('_output')] for o in outputs if o.endswith('_output')]
    close = difflib.get_close_matches(name, layers, n=5, cutoff=0.5)
    raise ValueError('no layer named %r in the base network; closest: %s'
                     % (name, ', '.join(close) or '(none)'))


def _sum_layers(body: mx.sym.Symbol) -> List[str]:
    import json
    nodes = json.loads(body.tojson())['nodes']
    return [n['name'] for n in nodes if n['op'] in _ADD_OPS]


def _conv_relu(data, name, num_filter, kernel, stride, pad):
    """Convolution + ReLU with the example's names (``conv<name>``, ``relu<name>``)."""
    bias = mx.sym.var('conv%s_bias' % name, init=mx.init.Constant(0.0),
                      attr={'__lr_mult__': '2.0'})
    conv = mx.sym.Convolution(data, bias=bias, kernel=kernel, stride=stride, pad=pad,
                              num_filter=num_filter, name='conv%s' % name)
    return mx.sym.Activation(conv, act_type='relu', name='relu%s' % name)


def multi_layer_feature(body: mx.sym.Symbol, from_layers: Sequence[str],
                        num_filters: Sequence[int], strides: Sequence[int], pads: Sequence[int],
                        min_filter: int = 128) -> List[mx.sym.Symbol]:
    """The SSD feature maps: named backbone layers, then extra layers on the last one.

    Every ``''`` entry adds a 1x1 convolution of ``max(min_filter, num_filter // 2)`` channels
    and a 3x3 convolution of ``num_filter`` channels with the given stride and padding, each
    followed by ReLU (no BatchNorm), as in the SSD paper.

    Raises
    ------
    ValueError
        Lists of different lengths, an extra layer first, a missing filter count, or an
        unknown layer name.
    """
    lists = dict(from_layers=from_layers, num_filters=num_filters, strides=strides, pads=pads)
    lengths = {k: len(v) for k, v in lists.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError('from_layers, num_filters, strides and pads must have one entry per '
                         'feature layer, got lengths %s' % lengths)
    layers = []
    for k, (name, filters, stride, pad) in enumerate(zip(from_layers, num_filters, strides,
                                                         pads)):
        if name.strip():
            layers.append(resolve_layer(body, name.strip()))
            continue
        if not layers:
            raise ValueError("from_layers[0] is '': the first feature layer must name a "
                             'layer of the base network')
        if filters <= 0 or stride <= 0 or pad < 0:
            raise ValueError('extra layer %d needs num_filters > 0, strides > 0 and pads >= 0, '
                             'got %d, %d, %d' % (k, filters, stride, pad))
        reduced = _conv_relu(layers[-1], 'multi_feat_%d_conv_1x1' % k,
                             max(min_filter, filters // 2), (1, 1), (1, 1), (0, 0))
        layers.append(_conv_relu(reduced, 'multi_feat_%d_conv_3x3' % k, filters, (3, 3),
                                 (stride, stride), (pad, pad)))
    return layers


def per_layer(value, count: int, what: str) -> list:
    """A per-layer list from one value for all layers or a list of ``count`` values."""
    values = value if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise ValueError('%s: expected one value for all %d layers or a list of %d, got %r'
                         % (what, count, count, value))
    return list(values)


def per_layer_sizes(sizes, count: int) -> List[List[float]]:
    """Anchor sizes of every layer (fractions of the image side).

    ``sizes`` is a list of per-layer lists (``[[.1, .141], [.2, .272], ...]``), or a
    ``[min, max]`` range: then layer 1 gets 0.1 and the others the SSD paper's linear scales
    from ``min`` to ``max``, each with the extra size ``sqrt(s_k s_{k+1})``. For 6 layers,
    ``[.2, .9]`` gives exactly the example's table.
    """
    if not sizes:
        raise ValueError('sizes must not be empty')
    if all(isinstance(s, (int, float)) for s in sizes):
        if len(sizes) != 2 or not 0 < sizes[0] < sizes[1] < 1:
            raise ValueError('a size range must be [min, max] with 0 < min < max < 1, got %r'
                             % (list(sizes),))
        scales = paper_sizes(count, 1.0, smin=sizes[0], smax=sizes[1])
        return [[scales[k], math.sqrt(scales[k] * scales[k + 1])] for k in range(count)]
    if len(sizes) != count:
        raise ValueError('sizes: expected %d per-layer lists or a [min, max] range, got %d lists'
                         % (count, len(sizes)))
    for k, size in enumerate(sizes):
        if not size or any(s <= 0 for s in size):
            raise ValueError('sizes[%d] must be a non-empty list of positive sizes, got %r'
                             % (k, size))
    return [list(s) for s in sizes]


def per_layer_ratios(ratios, count: int) -> List[List[float]]:
    """Aspect ratios of every layer from one list for all layers or per-layer lists."""
    if not ratios:
        raise ValueError('ratios must not be empty')
    if not isinstance(ratios[0], (list, tuple)):
        ratios = [list(ratios)] * count
    return [list(r) for r in per_layer(ratios, count, 'ratios')]


def normalize_layers(layers: Sequence[mx.sym.Symbol], normalization, num_channels
                     ) -> List[mx.sym.Symbol]:
    """L2-normalize (over channels) and rescale the layers with ``normalization > 0``.

    The learnable scale (``<layer>_scale``, one per channel) starts at the normalization value
    (20 for VGG's ``relu4_3``). ``num_channels`` gives the channels of every layer, or only of
    the normalized ones in order; it is not modified.
    """
    norms = per_layer(normalization, len(layers), 'normalizations')
    normalized = [k for k, n in enumerate(norms) if n > 0]
    channels = list(num_channels or [])
    if len(channels) == len(layers):
        channels = [channels[k] for k in normalized]
    if len(channels) != len(normalized) or any(c <= 0 for c in channels):
        raise ValueError('layers %s are normalized: give their channel counts (> 0) in '
                         'num_filters/num_channels, got %r' % (normalized, list(num_channels)))
    out = list(layers)
    for k, filters in zip(normalized, channels):
        name = layers[k].name
        normed = mx.sym.L2Normalization(layers[k], mode='channel', name='%s_norm' % name)
        scale = mx.sym.var('%s_scale' % name, shape=(1, filters, 1, 1),
                           init=mx.init.Constant(norms[k]))
        out[k] = mx.sym.broadcast_mul(scale, normed, name='%s_scaled' % name)
    return out


def multibox_layer(from_layers, num_classes, sizes=(.2, .95), ratios=(1,), normalization=-1,
                   num_channels=(), clip=False, interm_layer=0, steps=()):
    """Class, box and anchor predictions of every feature layer, concatenated.

    Parameters
    ----------
    from_layers : list of Symbol
        Feature layers (from :func:`multi_layer_feature`).
    num_classes : int
        Foreground classes; the background class 0 is added.
    sizes : list of lists or [min, max]
        Anchor sizes per layer (fractions of the image), see :func:`per_layer_sizes`.
    ratios : list or list of lists
        Aspect ratios, for all layers or per layer.
    normalization : int or list of int
        L2 normalization scale per layer, -1 for none (see :func:`normalize_layers`).
    num_channels : list of int
        Channels of the normalized layers (or of every layer).
    clip : bool
        Clip anchors to the image.
    interm_layer : int
        If > 0, a 3x3 convolution of that many channels + ReLU before the predictors.
    steps : list of float
        Anchor step per layer (fraction of the image); empty: ``1 / feature side``.

    Returns
    -------
    loc_preds (B, 4N), cls_preds (B, C+1, N), anchors (1, N, 4)
    """
    if not from_layers:
        raise ValueError('from_layers must not be empty')
    if num_classes < 1:
        raise ValueError('num_classes must be at least 1, got %r' % (num_classes,))
    count = len(from_layers)
    sizes = per_layer_sizes(sizes, count)
    ratios = per_layer_ratios(ratios, count)
    steps = list(steps or [])
    if steps and len(steps) != count:
        raise ValueError('steps: give one per layer (%d) or none, got %r' % (count, steps))
    layers = normalize_layers(from_layers, normalization, num_channels)
    loc_layers, cls_layers, anchor_layers = [], [], []
    for k, layer in enumerate(layers):
        name = from_layers[k].name
        if interm_layer > 0:
            layer = mx.sym.Convolution(layer, kernel=(3, 3), pad=(1, 1), num_filter=interm_layer,
                                       name='%s_inter_conv' % name)
            layer = mx.sym.Activation(layer, act_type='relu', name='%s_inter_relu' % name)
        num_anchors = len(sizes[k]) + len(ratios[k]) - 1
        for kind, outputs, collected in (('loc', 4, loc_layers),
                                         ('cls', num_classes + 1, cls_layers)):
            bias = mx.sym.var('%s_%s_pred_conv_bias' % (name, kind), init=mx.init.Constant(0.0),
                              attr={'__lr_mult__': '2.0'})
            pred = mx.sym.Convolution(layer, bias=bias, kernel=(3, 3), pad=(1, 1),
                                      num_filter=num_anchors * outputs,
                                      name='%s_%s_pred_conv' % (name, kind))
            pred = mx.sym.transpose(pred, axes=(0, 2, 3, 1),
                                    name='%s_%s_pred_transpose' % (name, kind))
            collected.append(mx.sym.flatten(pred, name='%s_%s_pred_flatten' % (name, kind)))
        step = (steps[k], steps[k]) if steps else (-1.0, -1.0)
        anchors = mx.sym.contrib.MultiBoxPrior(layer, sizes=tuple(sizes[k]),
                                               ratios=tuple(ratios[k]), clip=clip, steps=step,
                                               name='%s_anchors' % name)
        anchor_layers.append(mx.sym.flatten(anchors, name='%s_anchors_flatten' % name))
    loc_preds = mx.sym.concat(*loc_layers, dim=1, name='multibox_loc_pred')
    cls_preds = mx.sym.concat(*cls_layers, dim=1, name='multibox_cls_pred_concat')
    cls_preds = mx.sym.reshape(cls_preds, (0, -1, num_classes + 1),
                               name='multibox_cls_pred_reshape')
    cls_preds = mx.sym.transpose(cls_preds, axes=(0, 2, 1), name='multibox_cls_pred')
    anchors = mx.sym.concat(*anchor_layers, dim=1, name='multibox_anchors_concat')
    anchors = mx.sym.reshape(anchors, (0, -1, 4), name='multibox_anchors')
    return [loc_preds, cls_preds, anchors]
