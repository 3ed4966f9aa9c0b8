"""Which outputs of a classification network can feed SSD heads: a table by stride.

The network is traced once to a symbol and its shapes are inferred for one input size (no
computation). Every 4-D internal output that is not a convolution, normalization or variable
is a candidate. At each stride the deepest of the widest candidates is marked: the stage output
SSD presets use (ResNet v1: the last unit of a stage; ResNet v2: the pre-activated stage output;
MobileNet: the last ReLU before the next stride-2 block; MobileNetV2: the 576-channel expansion
SSDLite uses). Only ``net.features`` is traced when the network has it (Gluon's convention), so
classifier layers never count. Names are relative to the network's prefix, as GluonCV presets
spell them.
"""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from typing import List, Sequence, Union

import mxnet as mx
from mxnet.base import MXNetError
from mxnet.gluon import HybridBlock

from .network import load_network

__all__ = ['FeatureLayer', 'BackboneTable', 'inspect_backbone', 'auto_feature_strides']

#: coarser maps are pooling heads, not features (SSD adds its own extra layers instead)
MAX_STRIDE = 64
#: operators whose outputs are never features (a convolution is followed by its activation)
_NOT_FEATURES = {'null', 'Convolution', 'BatchNorm', 'Dropout', 'Cast', 'SyncBatchNorm',
                 'InstanceNorm', 'LayerNorm', '_copy', 'Reshape', 'Flatten'}


@dataclass(frozen=True)
class FeatureLayer:
    """One candidate feature map at the probe size."""

    name: str
    op: str
    channels: int
    height: int
    width: int
    stride: int
    last_of_stride: bool = False


class BackboneTable(list):
    """Candidate :class:`FeatureLayer` rows, shallow to deep; prints as a table."""

    def __init__(self, rows, network: str, size: int):
        super().__init__(rows)
        self.network, self.size = network, size

    def last_of_each_stride(self) -> List[FeatureLayer]:
        """The deepest candidate of every stride, shallow to deep."""
        return [row for row in self if row.last_of_stride]

    def by_name(self, name: str) -> FeatureLayer:
        """The row named ``name``; an unknown name fails listing the nearest candidates."""
        for row in self:
            if row.name == name:
                return row
        close = difflib.get_close_matches(name, [r.name for r in self], n=6, cutoff=0.5)
        raise ValueError('%s has no feature output %r; nearest: %s. Last output of each '
                         'stride: %s (ssd_zoo.inspect_backbone(%r, %d) lists them all)'
                         % (self.network, name, ', '.join(close) or '(none)',
                            ', '.join('%s (stride %d)' % (r.name, r.stride)
                                      for r in self.last_of_each_stride()),
                            self.network, self.size))

    def last_at(self, stride: int) -> FeatureLayer:
        """The deepest candidate at ``stride``."""
        rows = [r for r in self.last_of_each_stride() if r.stride == stride]
        if not rows:
            raise ValueError('%s has no output at stride %d at %d px; strides: %s'
                             % (self.network, stride, self.size,
                                sorted({r.stride for r in self})))
        return rows[0]

    def __str__(self) -> str:
        lines = ['%s at %dx%d: %d candidate feature outputs (* last of its stride)'
                 % (self.network, self.size, self.size, len(self)),
                 '  %-34s %-14s %8s %9s %6s' % ('name', 'op', 'channels', 'HxW', 'stride')]
        for r in self:
            lines.append('%s %-34s %-14s %8d %9s %6d' % (
                '*' if r.last_of_stride else ' ', r.name, r.op, r.channels,
                '%dx%d' % (r.height, r.width), r.stride))
        return '\n'.join(lines)


def _infer_shapes(internals, size):
    """Names and shapes of internal outputs at a ``size`` input. Layers that cannot run at that
    size (a classifier's 7x7 pooling on a small input) end the list instead of failing it."""
    names = internals.list_outputs()
    data = (1, 3, size, size)
    try:
        return names, internals.infer_shape_partial(data=data)[1]
    except MXNetError:
        pass

    def works(index):
        node = internals[index]
        if 'data' not in node.list_arguments():  # a parameter, not computed from the input
            return True
        try:
            node.infer_shape_partial(data=data)
            return True
        except MXNetError:
            return False
    low, high = 0, len(names) - 1  # the last index that works
    while low < high:
        mid = (low + high + 1) // 2
        if works(mid):
            low = mid
        else:
            high = mid - 1
    head = mx.sym.Group([internals[i] for i in range(low + 1)])
    return names[:low + 1], head.infer_shape_partial(data=data)[1]


def _nominal_stride(size: int, extent: int) -> int:
    return 2 ** int(round(math.log2(size / extent)))


def inspect_backbone(backbone: Union[str, HybridBlock], size: int = 512,
                     name: str = None) -> BackboneTable:
    """Candidate feature outputs of a classification network at a ``size`` x ``size`` input.

    Parameters
    ----------
    backbone : str or HybridBlock
        GluonCV model-zoo name (``'resnet101_v1'``) or a Gluon network.
    size : int
        Probe input side.
    name : str, optional
        How messages call the network (default: its zoo name or class).

    Returns
    -------
    BackboneTable
        Rows (name, op, channels, HxW, stride), the last output of each stride marked.

    Examples
    --------
    >>> print(ssd_zoo.inspect_backbone('resnet18_v1', 512).last_of_each_stride()[-2:])
    """
    net = load_network(backbone)
    name = name or (backbone if isinstance(backbone, str) else type(backbone).__name__)
    # Gluon model-zoo networks keep the classifier in `output`: trace only `features`
    body = net.features if isinstance(getattr(net, 'features', None), HybridBlock) else net
    traced = body(mx.sym.var('data'))
    internals = traced.get_internals()
    outputs, shapes = _infer_shapes(internals, size)
    ops = {node['name']: node['op'] for node in json.loads(traced.tojson())['nodes']}
    prefix = net.prefix
    rows = []
    for output, shape in zip(outputs, shapes):
        if not output.endswith('_output') or not shape or len(shape) != 4:
            continue
        if min(shape[2:]) < 1 or size / shape[2] > MAX_STRIDE:
            continue
        node = output[:-len('_output')]
        if ops.get(node, 'null') in _NOT_FEATURES:
            continue
        label = node[len(prefix):] if prefix and node.startswith(prefix) else node
        rows.append(FeatureLayer(label, ops[node], shape[1], shape[2], shape[3],
                                 _nominal_stride(size, shape[2])))
    widest = {}
    for row in rows:
        widest[row.stride] = max(widest.get(row.stride, 0), row.channels)
    last = {row.stride: i for i, row in enumerate(rows) if row.channels == widest[row.stride]}
    marked = [FeatureLayer(**{**r.__dict__, 'last_of_stride': last[r.stride] == i})
              for i, r in enumerate(rows)]
    return BackboneTable(marked, name, size)


def auto_feature_strides(network: Union[str, HybridBlock]) -> Sequence[int]:
    """Strides fed to heads by default: 8/16/32 for VGG-like nets, else 16/32."""
    name = network if isinstance(network, str) else type(network).__name__.lower()
    return (8, 16, 32) if name.startswith('vgg') else (16, 32)


#: channels of the extra layers ``features='auto'`` appends (GluonCV's ResNet presets start so)
DEFAULT_EXTRA_FILTERS = (512, 512, 256, 256, 256, 256, 128, 128)


def _halvings_to_one(extent: int) -> int:
    count = 0
    while extent > 1:
        extent = (extent + 1) // 2  # 3x3, stride 2, pad 1
        count += 1
    return count


def plan_features(table: BackboneTable, features='auto', filters=None, strides=None,
                  num_extras=None, strict=True):
    """Feature layers, extra-layer channels and anchor steps for an SSD on ``table``'s network.

    Parameters
    ----------
    table : BackboneTable
        :func:`inspect_backbone` at the SSD's base size.
    features : 'auto' or sequence of str
        ``'auto'``: the marked output at each of ``strides`` the network has; names are checked
        against the table (unknown names list the nearest; strides must increase).
    filters : sequence of int, optional
        Extra layers; default enough stride-2 layers to reach 1x1 (or ``num_extras``).
    strict : bool
        Named features must be the marked (deepest, widest) output of their stride: a name
        copied from a shallower network (resnet50's ``stage3_activation5`` in resnet101) fails
        instead of silently building a smaller network. Presets that use inner layers on
        purpose pass False.

    Returns
    -------
    (names, filters, steps)
        ``steps`` are the base size over each head's map side, the anchor spacing that tiles
        the image exactly.
    """
    if isinstance(features, str) and features == 'auto':
        wanted = strides or auto_feature_strides(table.network)
        available = {r.stride for r in table.last_of_each_stride()}
        rows = [table.last_at(s) for s in wanted if s in available]
        if not rows:
            raise ValueError('%s has none of the strides %s at %d px (it has %s)'
                             % (table.network, list(wanted), table.size, sorted(available)))
    else:
        rows = [table.by_name(name) for name in features]
        for row in rows:
            if strict and not row.last_of_stride:
                last = table.last_at(row.stride)
                raise ValueError(
                    '%s is inside %s, not the output at stride %d: that is %s (%d channels, '
                    '%dx%d). Pass %r, features=\'auto\', or strict_features=False to use an '
                    'inner layer on purpose.' % (row.name, table.network, row.stride, last.name,
                                                 last.channels, last.height, last.width,
                                                 last.name))
        for before, after in zip(rows, rows[1:]):
            if after.stride <= before.stride:
                raise ValueError('feature layers must get coarser: %s (stride %d) follows %s '
                                 '(stride %d); choose one layer per stride, shallow to deep'
                                 % (after.name, after.stride, before.name, before.stride))
    extent = rows[-1].height
    if filters is None:
        count = _halvings_to_one(extent) if num_extras is None else num_extras
        filters = list(DEFAULT_EXTRA_FILTERS[:count]) + \
            [DEFAULT_EXTRA_FILTERS[-1]] * max(0, count - len(DEFAULT_EXTRA_FILTERS))
    heights = [r.height for r in rows]
    for _ in filters:
        extent = (extent + 1) // 2
        heights.append(extent)
    steps = [table.size / h for h in heights]
    return [r.name for r in rows], list(filters), steps
