"""Pre-activation ResNet (v2) as in MXNet's image-classification symbols and the SSD example.

Names follow the published MXNet checkpoints (``bn_data``, ``conv0``,
``stage3_unit6_conv3``, ...). The residual sums, which the example left to MXNet's counter
(``_plus0``, ``_plus1``, ...), are named ``stage<i>_unit<j>_plus``; the legacy ``_plusN`` names
still resolve (see :func:`ssd_zoo.symbol.common.resolve_layer`).
"""
import mxnet as mx

from .layers import bn_act, named_add

#: units per stage and whether the units are bottlenecks
UNITS = {18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False), 50: ((3, 4, 6, 3), True),
         101: ((3, 4, 23, 3), True), 152: ((3, 8, 36, 3), True)}


def stage_filters(bottleneck):
    """Output channels of the stem and the four stages."""
    return (64, 256, 512, 1024, 2048) if bottleneck else (64, 64, 128, 256, 512)


def residual_unit(data, num_filter, stride, dim_match, name, bottleneck):
    """One pre-activation unit; returns its sum ``<name>_plus``."""
    act1 = bn_act(data, name, '%s_bn1' % name, '%s_relu1' % name)
    if bottleneck:
        shapes = ((num_filter // 4, (1, 1), (1, 1), (0, 0)),
                  (num_filter // 4, (3, 3), (stride, stride), (1, 1)),
                  (num_filter, (1, 1), (1, 1), (0, 0)))
    else:
        shapes = ((num_filter, (3, 3), (stride, stride), (1, 1)),
                  (num_filter, (3, 3), (1, 1), (1, 1)))
    body = act1
    for k, (filters, kernel, strides, pad) in enumerate(shapes, start=1):
        if k > 1:
            body = bn_act(body, name, '%s_bn%d' % (name, k), '%s_relu%d' % (name, k))
        body = mx.sym.Convolution(body, num_filter=filters, kernel=kernel, stride=strides,
                                  pad=pad, no_bias=True, name='%s_conv%d' % (name, k))
    shortcut = data if dim_match else mx.sym.Convolution(
        act1, num_filter=num_filter, kernel=(1, 1), stride=(stride, stride), no_bias=True,
        name='%s_sc' % name)
    return named_add(body, shortcut, '%s_plus' % name)


def get_symbol(num_classes=1000, num_layers=50, image_shape='3,224,224', **kwargs):
    """The body up to the last unit of stage 4 (its sum, before the final BatchNorm).

    Parameters
    ----------
    num_layers : int
        18, 34, 50, 101 or 152.
    image_shape : str
        Accepted for the example's signature (it only checked the input had 3 channels).
    """
    if num_layers not in UNITS:
        raise ValueError('resnet num_layers must be one of %s, got %r'
                         % (sorted(UNITS), num_layers))
    if str(image_shape).split(',')[0].strip() != '3':
        raise ValueError('resnet expects 3-channel images, image_shape=%r' % (image_shape,))
    units, bottleneck = UNITS[num_layers]
    filters = stage_filters(bottleneck)
    data = mx.sym.BatchNorm(mx.sym.var('data'), fix_gamma=True, eps=2e-5, name='bn_data')
    body = mx.sym.Convolution(data, num_filter=filters[0], kernel=(7, 7), stride=(2, 2),
                              pad=(3, 3), no_bias=True, name='conv0')
    body = bn_act(body, '', 'bn0', 'relu0')
    body = mx.sym.Pooling(body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type='max',
                          name='pooling0')
    for stage, count in enumerate(units, start=1):
        for unit in range(1, count + 1):
            stride = 2 if unit == 1 and stage > 1 else 1
            body = residual_unit(body, filters[stage], stride, unit > 1,
                                 'stage%d_unit%d' % (stage, unit), bottleneck)
    return body
