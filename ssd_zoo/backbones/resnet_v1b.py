"""ResNet-v1b SSD extractor (GluonCV's ``resnet34_v1b_ssd``): stride-8 and stride-16 features.

The first block of layer3 is switched to stride 1, so layer2 (stride 8) and layer4 (stride 16)
feed the first two heads, as VGG's conv4_3 and fc7 do; extra layers bring the map to 1x1.
The parameter structure (``stage1``, ``stage2``, ``more_stages``) is GluonCV's.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

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
    """

    def __init__(self, network: str = 'resnet34_v1b', filters: Sequence[int] = (256, 256, 128, 128),
                 pretrained: Union[bool, str] = False, root: Optional[str] = None,
                 ctx: Optional[mx.Context] = None, use_bn: bool = False, min_depth: int = 128,
                 reduce_ratio: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not network.endswith('v1b'):
            raise ValueError('ResNetV1bExtractor needs a *_v1b network, got %r' % network)
        res = load_network(network, pretrained, root, ctx)
        init = mx.init.Xavier(rnd_type='gaussian', factor_type='out', magnitude=2)
        with self.name_scope():
            self.stage1 = nn.HybridSequential('stage1')
            for name in ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2'):
                self.stage1.add(getattr(res, name))
            self.stage2 = nn.HybridSequential('stage2')
            self.stage2.add(res.layer3)
            # keep layer3 at stride 8 (its first block's conv and shortcut), so layer4 is 16
            first = res.layer3[0]
            first.conv1._kwargs['stride'] = (1, 1)  # pylint: disable=protected-access
            first.downsample[0]._kwargs['stride'] = (1, 1)  # pylint: disable=protected-access
            self.stage2.add(res.layer4)
            self.more_stages = nn.HybridSequential('more_stages')
            for i, channels in enumerate(filters):
                stage = nn.HybridSequential('more_stages_%d' % i)
                stage.add(nn.Conv2D(max(min_depth, int(round(channels * reduce_ratio))), 1,
                                    use_bias=not use_bn, weight_initializer=init))
                if use_bn:
                    stage.add(nn.BatchNorm())
                stage.add(nn.Activation('relu'))
                last = i == len(filters) - 1
                stage.add(nn.Conv2D(channels, 3, strides=2, padding=0 if last else 1,
                                    use_bias=not use_bn, weight_initializer=init))
                if use_bn:
                    stage.add(nn.BatchNorm())
                stage.add(nn.Activation('relu'))
                self.more_stages.add(stage)
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
