"""MobileNet v1 (Howard et al., 2017) with the layer names of the MXNet SSD example.

``conv_1`` is the stem; ``conv_<k>_dw`` / ``conv_<k>`` are the depthwise / pointwise layers of
block ``k`` (2..14); every layer ends in ``<name>_relu``. ``conv_12_relu`` is the last stride-16
output (512 channels) and ``conv_14_relu`` the stride-32 output (1024 channels).
"""
import mxnet as mx

from .layers import conv_bn_act

#: (pointwise filters, depthwise stride) of blocks 2..14
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def get_symbol(num_classes=1000, multiplier=1.0, **kwargs):
    """The body up to ``conv_14_relu``; ``multiplier`` scales every layer's channels."""
    def width(filters):
        return max(8, int(filters * multiplier))

    body = conv_bn_act(mx.sym.var('data'), 'conv_1', width(32), (3, 3), (2, 2), (1, 1))
    channels = width(32)
    for k, (filters, stride) in enumerate(BLOCKS, start=2):
        body = conv_bn_act(body, 'conv_%d_dw' % k, channels, (3, 3), (stride, stride), (1, 1),
                           num_group=channels)
        channels = width(filters)
        body = conv_bn_act(body, 'conv_%d' % k, channels)
    return body
