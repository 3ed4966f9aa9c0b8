"""DenseNet (Huang et al., 2017) with the block names of the MXNet SSD example.

Dense block ``i`` concatenates its layers' outputs into ``DBstage<i>_concat<j>``; the last one of
stage 3 (``DBstage3_concat24`` in DenseNet-121) is the stride-16 map, that of stage 4
(``DBstage4_concat16``) the stride-32 map.
"""
import mxnet as mx

from .layers import bn_act

#: layers per dense block
BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


def dense_layer(data, name, growth_rate, bottleneck_width=4):
    """BN-ReLU-conv1x1 (``bottleneck_width * growth``) -> BN-ReLU-conv3x3 (``growth``)."""
    body = bn_act(data, '%s_x1' % name)
    body = mx.sym.Convolution(body, num_filter=bottleneck_width * growth_rate, kernel=(1, 1),
                              no_bias=True, name='%s_x1_conv' % name)
    body = bn_act(body, '%s_x2' % name)
    return mx.sym.Convolution(body, num_filter=growth_rate, kernel=(3, 3), pad=(1, 1),
                              no_bias=True, name='%s_x2_conv' % name)


def get_symbol(num_classes=1000, num_layers=121, growth_rate=32, **kwargs):
    """The body up to the last concat of stage 4 (before the final BatchNorm)."""
    if num_layers not in BLOCKS:
        raise ValueError('densenet num_layers must be one of %s, got %r'
                         % (sorted(BLOCKS), num_layers))
    channels = 2 * growth_rate
    body = mx.sym.Convolution(mx.sym.var('data'), num_filter=channels, kernel=(7, 7),
                              stride=(2, 2), pad=(3, 3), no_bias=True, name='conv0')
    body = bn_act(body, '', 'bn0', 'relu0')
    body = mx.sym.Pooling(body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type='max',
                          name='pool0')
    for stage, layers in enumerate(BLOCKS[num_layers], start=1):
        if stage > 1:  # transition: halve channels and resolution
            channels //= 2
            body = bn_act(body, 'TBstage%d' % stage)
            body = mx.sym.Convolution(body, num_filter=channels, kernel=(1, 1), no_bias=True,
                                      name='TBstage%d_conv' % stage)
            body = mx.sym.Pooling(body, kernel=(2, 2), stride=(2, 2), pool_type='avg',
                                  name='TBstage%d_pool' % stage)
        for layer in range(1, layers + 1):
            name = 'DBstage%d_layer%d' % (stage, layer)
            body = mx.sym.Concat(body, dense_layer(body, name, growth_rate),
                                 name='DBstage%d_concat%d' % (stage, layer))
            channels += growth_rate
    return body
