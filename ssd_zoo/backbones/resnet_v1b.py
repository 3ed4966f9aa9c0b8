"""ResNet-v1b SSD extractor (GluonCV's ``resnet34_v1b_ssd``): stride-8 and stride-16 features.

The first block of layer3 is switched to stride 1, so layer2 (stride 8) and layer4 (stride 16)
feed the first two heads, as VGG's conv4_3 and fc7 do; extra layers bring the map to 1x1.
The parameter structure (``stage1``, ``stage2``, ``more_stages``) is GluonCV's.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

from .. import compat
from .extras import expander_specs, extra_stage
from .network import load_network

__all__ = ['ResNetV1bExtractor']


class ResNetV1bExtractor(HybridBlock):
    """ResNet-v1b body at strides 8/16 plus extra layers, one output per SSD head.

    Parameters
    ----------
    network : str
        A GluonCV ``*_v1b`` ResNet name.
    filters : sequence of int
        Channels of the extra layers; each halves the map, the last one without padding.
    pretrained : bool or str
        ImageNet weights of ``network`` (see :func:`load_network`).
    use_bn : bool
        BatchNorm in the extra layers (GluonCV's preset has none).
    network_kwargs : dict, optional
        Passed to the ResNet's constructor (``norm_layer``, ``norm_kwargs``).
    """

    def __init__(self, network: str = 'resnet34_v1b', filters: Sequence[int] = (256, 256, 128, 128),
                 pretrained: Union[bool, str] = False, root: Optional[str] = None,
                 ctx: Optional[mx.Context] = None, use_bn: bool = False, min_depth: int = 128,
                 reduce_ratio: float = 1.0, network_kwargs: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        if not network.endswith('v1b'):
            raise ValueError('ResNetV1bExtractor needs a *_v1b network, got %r' % network)
        res = load_network(network, pretrained, root, ctx, **(network_kwargs or {}))
        with self.name_scope():
            self.stage1 = nn.HybridSequential('stage1')
            for name in ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2'):
                self.stage1.add(getattr(res, name))
            self.stage2 = nn.HybridSequential('stage2')
            self.stage2.add(res.layer3)
            # keep layer3 at stride 8 (its first block's conv and shortcut), so layer4 is 16
            first = res.layer3[0]
            compat.set_conv_stride(first.conv1, (1, 1))
            compat.set_conv_stride(first.downsample[0], (1, 1))
            self.stage2.add(res.layer4)
            self.more_stages = nn.HybridSequential('more_stages')
            # the last extra layer has no padding: 3x3 -> 1x1 (GluonCV's resnet34_v1b_ssd)
            pads = [1] * (len(filters) - 1) + [0]
            for i, spec in enumerate(expander_specs(filters, min_depth, reduce_ratio, pads)):
                self.more_stages.add(extra_stage(spec, use_bn, 'more_stages_%d_' % i))
        self.feature_names = ['layer2', 'layer4'] + ['more_stages_%d' % i
                                                     for i in range(len(filters))]

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        y = self.stage1(x)
        outputs = [y]
        y = self.stage2(y)
        outputs.append(y)
        for stage in self.more_stages:
            y = stage(y)
            outputs.append(y)
        return outputs
