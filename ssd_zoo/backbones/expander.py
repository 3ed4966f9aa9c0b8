"""Feature extraction by layer name from any Gluon network, plus SSD extra layers.

The backbone is traced to a symbol, the named internal outputs become the first feature maps,
and stride-2 extra layers (1x1 transition, 3x3 conv, BatchNorm, ReLU) are appended after the
last one. Layer and parameter names follow GluonCV's ``FeatureExpander`` (``expand_conv0``,
``expand_trans_bn0``, ...), so GluonCV SSD weight files load unchanged.
"""
from __future__ import annotations

import difflib
import warnings
from typing import List, Sequence

import mxnet as mx
from mxnet.gluon import HybridBlock, SymbolBlock

from .extras import expander_specs, extra_stage_symbol

__all__ = ['FeatureExpander', 'output_names', 'resolve_output']


def output_names(symbol: mx.sym.Symbol, prefix: str = '') -> List[str]:
    """Names of a symbol's internal outputs, without ``prefix`` and the ``_output`` suffix."""
    names = []
    for full in symbol.get_internals().list_outputs():
        if full.endswith('_output') and full.startswith(prefix):
            names.append(full[len(prefix):-len('_output')])
    return names


def resolve_output(symbol: mx.sym.Symbol, name: str, prefix: str = '') -> mx.sym.Symbol:
    """The internal output ``prefix + name``; an unknown name fails listing the nearest ones."""
    internals = symbol.get_internals()
    key = prefix + name if not name.endswith('_output') else prefix + name[:-len('_output')]
    if key + '_output' in internals.list_outputs():
        return internals[key + '_output']
    candidates = output_names(symbol, prefix)
    close = difflib.get_close_matches(name, candidates, n=6, cutoff=0.5)
    raise ValueError('feature layer %r is not an output of the backbone%s; nearest names: %s '
                     '(ssd_zoo.inspect_backbone lists them all with their strides)'
                     % (name, ' (prefix %r)' % prefix if prefix else '',
                        ', '.join(close) if close else ', '.join(candidates[-6:])))


class FeatureExpander(SymbolBlock):
    """Named backbone outputs followed by extra stride-2 layers; one output per SSD head.

    Parameters
    ----------
    network : HybridBlock
        The classification network.
    outputs : sequence of str
        Internal output names (without the network's prefix), shallow to deep.
    filters : sequence of int
        Channels of each appended extra layer.
    min_depth, reduce_ratio : int, float
        The 1x1 transition has ``max(min_depth, round(f * reduce_ratio))`` channels.
    use_bn : bool
        BatchNorm after each extra convolution (GluonCV's default; its ``fix_gamma`` default
        is kept so that GluonCV weights give identical outputs).
    """

    def __init__(self, network: HybridBlock, outputs: Sequence[str], filters: Sequence[int],
                 min_depth: int = 128, reduce_ratio: float = 1.0, use_bn: bool = True):
        data = mx.sym.var('data')
        traced = network(data)
        prefix = network.prefix
        features = [resolve_output(traced, name, prefix) for name in outputs]
        y = features[-1]
        for i, spec in enumerate(expander_specs(filters, min_depth, reduce_ratio)):
            # GluonCV's names: expand_trans_conv0, expand_trans_bn0, ..., expand_relu0
            y = extra_stage_symbol(y, spec, use_bn, lambda conv, kind, i=i: 'expand_%s%s%d' % (
                'trans_' if conv == 0 else '', kind, i))
            features.append(y)
        with warnings.catch_warnings():
            # SymbolBlock warns that the input's dtype is unknown until the first call
            warnings.filterwarnings('ignore', message='Cannot decide type')
            super().__init__(features, data, params=network.collect_params())
        self.backbone_prefix = prefix
        self.feature_names = list(outputs) + ['expand_relu%d' % i for i in range(len(filters))]

