"""SSD extra layers: the stride-2 stages appended after the last backbone feature.

Each extra layer is a short stack of convolutions, each followed by BatchNorm (optional) and
ReLU - GluonCV's ``FeatureExpander`` stage is a 1x1 transition then a 3x3 stride-2 conv. The
stages are described as data (:data:`ExtraSpec`) and built by one function for Gluon blocks
(VGG-atrous, ResNet-v1b) and one for traced symbols (the feature expander); the callers only
choose the names, which GluonCV's weight files fix.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import mxnet as mx
from mxnet.gluon import nn

from ..defaults import layer_init

__all__ = ['ExtraSpec', 'expander_specs', 'extra_stage', 'extra_stage_symbol']

#: one extra layer: ``(channels, kernel, stride, pad)`` of each of its convolutions
ExtraSpec = Tuple[Tuple[int, int, int, int], ...]


def expander_specs(filters: Sequence[int], min_depth: int = 128, reduce_ratio: float = 1.0,
                   pads: Union[int, Sequence[int]] = 1) -> List[ExtraSpec]:
    """GluonCV's extra layers for output channels ``filters``: a 1x1 transition of
    ``max(min_depth, round(f * reduce_ratio))`` channels, then a 3x3 stride-2 convolution
    (padding ``pads``, one value or one per layer)."""
    pads = [pads] * len(filters) if isinstance(pads, int) else list(pads)
    return [((max(min_depth, int(round(f * reduce_ratio))), 1, 1, 0), (f, 3, 2, pad))
            for f, pad in zip(filters, pads)]


def extra_stage(spec: ExtraSpec, batch_norm: bool, prefix: str = '', dilation: int = 1,
                use_bias: Optional[bool] = None) -> nn.HybridSequential:
    """A Gluon stage ``[conv, (BatchNorm), ReLU] * len(spec)``; weights initialized for
    training from scratch (:func:`ssd_zoo.defaults.layer_init`), biases zero; by default no
    bias before BatchNorm (VGG keeps them: ``use_bias=True``)."""
    use_bias = not batch_norm if use_bias is None else use_bias
    stage = nn.HybridSequential(prefix=prefix)
    with stage.name_scope():
        for channels, kernel, stride, pad in spec:
            stage.add(nn.Conv2D(channels, kernel, stride, pad, dilation=dilation,
                                use_bias=use_bias, weight_initializer=layer_init(),
                                bias_initializer='zeros'))
            if batch_norm:
                stage.add(nn.BatchNorm())
            stage.add(nn.Activation('relu'))
    return stage


def extra_stage_symbol(x: mx.sym.Symbol, spec: ExtraSpec, batch_norm: bool,
                       name: Callable[[int, str], str]) -> mx.sym.Symbol:
    """The same stage on a symbol; ``name(i, kind)`` names the ``i``-th convolution's layers
    (``kind`` is ``'conv'``, ``'bn'`` or ``'relu'``)."""
    init = layer_init().dumps()
    for i, (channels, kernel, stride, pad) in enumerate(spec):
        x = mx.sym.Convolution(x, num_filter=channels, kernel=(kernel, kernel),
                               stride=(stride, stride), pad=(pad, pad), no_bias=batch_norm,
                               name=name(i, 'conv'), attr={'__init__': init})
        if batch_norm:
            x = mx.sym.BatchNorm(x, name=name(i, 'bn'))
        x = mx.sym.Activation(x, act_type='relu', name=name(i, 'relu'))
    return x
