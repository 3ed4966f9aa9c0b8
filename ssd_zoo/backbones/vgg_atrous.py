"""VGG16-atrous, the backbone of the original SSD, with its extra layers.

The parameter structure (``stages.<i>.<j>``, ``norm4``, ``extras.<i>.<j>``, the ``init_scale``
constant) is GluonCV's ``VGGAtrousExtractor``, so GluonCV SSD weight files load unchanged.
"""
from __future__ import annotations

from typing import Sequence

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

from ..defaults import STD, layer_init
from .extras import ExtraSpec, extra_stage

__all__ = ['VGG_LAYERS', 'VGG_EXTRAS', 'VGGAtrousExtractor', 'L2Normalize']

#: convolutions per stage and their channels (VGG-11/13/16/19)
VGG_LAYERS = {
    11: ((1, 1, 2, 2, 2), (64, 128, 256, 512, 512)),
    13: ((2, 2, 2, 2, 2), (64, 128, 256, 512, 512)),
    16: ((2, 2, 3, 3, 3), (64, 128, 256, 512, 512)),
    19: ((2, 2, 4, 4, 4), (64, 128, 256, 512, 512)),
}


#: extra layers after fc7 per base size: each a 1x1 reduction then a 3x3 (or 4x4) conv
VGG_EXTRAS = {
    300: (((256, 1, 1, 0), (512, 3, 2, 1)),
          ((128, 1, 1, 0), (256, 3, 2, 1)),
          ((128, 1, 1, 0), (256, 3, 1, 0)),
          ((128, 1, 1, 0), (256, 3, 1, 0))),
    512: (((256, 1, 1, 0), (512, 3, 2, 1)),
          ((128, 1, 1, 0), (256, 3, 2, 1)),
          ((128, 1, 1, 0), (256, 3, 2, 1)),
          ((128, 1, 1, 0), (256, 3, 2, 1)),
          ((128, 1, 1, 0), (256, 4, 1, 1))),
}




class L2Normalize(HybridBlock):
    """Channel-wise L2 normalization with a learnable per-channel scale (SSD's conv4_3 norm)."""

    def __init__(self, channels: int, initial: float = 20.0, eps: float = 1e-5):
        super().__init__()
        self._eps = eps
        with self.name_scope():
            self.scale = self.params.get('normalize_scale', shape=(1, channels, 1, 1),
                                         init=mx.init.Constant(initial))

    def hybrid_forward(self, F, x, scale):  # pylint: disable=arguments-differ
        return F.broadcast_mul(F.L2Normalization(x, mode='channel', eps=self._eps), scale)


class VGGAtrousExtractor(HybridBlock):
    """VGG with atrous fc6/fc7 and SSD extra layers; returns one feature map per head.

    Outputs: L2-normalized conv4_3 (stride 8), fc7 (stride 16), then one map per extra layer.

    Parameters
    ----------
    num_layers : int
        11, 13, 16 or 19.
    extras : sequence of ExtraSpec
        The extra layers, e.g. ``VGG_EXTRAS[300]``.
    batch_norm : bool
        Insert BatchNorm after every convolution.
    """

    def __init__(self, num_layers: int, extras: Sequence[ExtraSpec], batch_norm: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        layers, filters = VGG_LAYERS[num_layers]
        with self.name_scope():
            # Caffe-trained weights expect pixels in [0, 255]; the input is ImageNet-normalized.
            scale = mx.nd.array(STD).reshape((1, 3, 1, 1)) * 255
            self.init_scale = self.params.get_constant('init_scale', scale)
            self.stages = nn.HybridSequential()
            for count, channels in zip(layers, filters):
                self.stages.add(extra_stage(((channels, 3, 1, 1),) * count, batch_norm,
                                            use_bias=True))
            # fc6 as a 3x3 conv dilated by 6, fc7 as a 1x1 conv (the "atrous" trick)
            fc = nn.HybridSequential(prefix='dilated_')
            with fc.name_scope():
                fc.add(nn.Conv2D(1024, 3, padding=6, dilation=6, weight_initializer=layer_init()))
                if batch_norm:
                    fc.add(nn.BatchNorm())
                fc.add(nn.Activation('relu'))
                fc.add(nn.Conv2D(1024, 1, weight_initializer=layer_init()))
                if batch_norm:
                    fc.add(nn.BatchNorm())
                fc.add(nn.Activation('relu'))
            self.stages.add(fc)
            self.norm4 = L2Normalize(filters[3], 20)
            self.extras = nn.HybridSequential()
            for i, spec in enumerate(extras):
                self.extras.add(extra_stage(spec, batch_norm, 'extra%d_' % i, use_bias=True))

    def hybrid_forward(self, F, x, init_scale):  # pylint: disable=arguments-differ
        x = F.broadcast_mul(x, init_scale)
        for stage in self.stages[:3]:
            x = F.Pooling(stage(x), pool_type='max', kernel=(2, 2), stride=(2, 2),
                          pooling_convention='full')
        x = self.stages[3](x)
        outputs = [self.norm4(x)]
        x = F.Pooling(x, pool_type='max', kernel=(2, 2), stride=(2, 2), pooling_convention='full')
        x = self.stages[4](x)
        # pool5 is 3x3 stride 1 so that fc6/fc7 stay at stride 16
        x = F.Pooling(x, pool_type='max', kernel=(3, 3), stride=(1, 1), pad=(1, 1),
                      pooling_convention='full')
        x = self.stages[5](x)
        outputs.append(x)
        for extra in self.extras:
            x = extra(x)
            outputs.append(x)
        return outputs
