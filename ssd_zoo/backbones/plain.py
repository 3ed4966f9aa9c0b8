"""A small plain conv-BN-ReLU backbone that trains from scratch on a CPU in minutes.

Not an ImageNet network: it exists so that the embedded ``shapes`` job (``make run``) and the
tests can train a real SSD end to end on two CPU cores. Each stage halves the resolution with
a stride-2 3x3 convolution and refines with a second one; the last activation of a stage is
named ``stage<k>_out`` (``stage4_out`` is stride 16, ``stage5_out`` stride 32).
"""
from __future__ import annotations

from typing import Optional, Sequence

from mxnet.gluon import HybridBlock, nn

__all__ = ['PlainNet', 'plainnet']


class PlainNet(HybridBlock):
    """Stages of (3x3 stride-2 conv, 3x3 conv), each followed by BatchNorm and ReLU.

    Parameters
    ----------
    channels : sequence of int
        Output channels of each stage; stage ``k`` (1-based) has stride ``2**k``.
    norm_layer, norm_kwargs
        The normalization layer and its arguments (GluonCV's convention:
        ``gluon.contrib.nn.SyncBatchNorm`` with ``{'num_devices': N}`` across devices).
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64, 128, 256),
                 norm_layer=nn.BatchNorm, norm_kwargs: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        norm_kwargs = norm_kwargs or {}
        with self.name_scope():
            self.features = nn.HybridSequential(prefix='')
            for k, width in enumerate(channels, start=1):
                for stride in (2, 1) if k > 1 else (2,):
                    self.features.add(nn.Conv2D(width, 3, stride, 1, use_bias=False),
                                      norm_layer(**norm_kwargs))
                    last = stride == 1 or k == 1
                    self.features.add(nn.Activation('relu', prefix='stage%d_out_' % k)
                                      if last else nn.Activation('relu'))

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.features(x)


def plainnet(pretrained=False, **kwargs) -> PlainNet:
    """The default :class:`PlainNet` (about 1.2M parameters); it has no pretrained weights."""
    if pretrained:
        raise ValueError('plainnet has no ImageNet weights; use pretrained_base=False')
    return PlainNet(**kwargs)
