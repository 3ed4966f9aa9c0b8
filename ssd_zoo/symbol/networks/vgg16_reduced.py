"""VGG16 with fc6/fc7 as (dilated) convolutions, as in the SSD paper ("VGG16 reduced").

Layer and parameter names are those of the MXNet example's ``vgg16_reduced`` checkpoint
(``conv1_1`` ... ``relu4_3`` ... ``fc7``, ``relu7``), so its ImageNet weights load by name.
"""
import mxnet as mx

from .layers import conv_act

#: (block, convolutions, filters, pooling convention of the pool after the block)
BLOCKS = ((1, 2, 64, 'valid'), (2, 2, 128, 'valid'), (3, 3, 256, 'full'),
          (4, 3, 512, 'valid'), (5, 3, 512, None))


def get_symbol(num_classes=1000, **kwargs):
    """The convolutional body up to ``relu7`` (stride 16 at ``relu7``, stride 8 at ``relu4_3``).

    ``num_classes`` is accepted for the example's signature; the classifier is not built
    because an SSD never uses it.
    """
    body = mx.sym.var('data')
    for block, convs, filters, convention in BLOCKS:
        for i in range(1, convs + 1):
            body = conv_act(body, '%d_%d' % (block, i), filters)
        if convention:
            body = mx.sym.Pooling(body, pool_type='max', kernel=(2, 2), stride=(2, 2),
                                  pooling_convention=convention, name='pool%d' % block)
    body = mx.sym.Pooling(body, pool_type='max', kernel=(3, 3), stride=(1, 1), pad=(1, 1),
                          name='pool5')
    fc6 = mx.sym.Convolution(body, num_filter=1024, kernel=(3, 3), pad=(6, 6), dilate=(6, 6),
                             name='fc6')
    relu6 = mx.sym.Activation(fc6, act_type='relu', name='relu6')
    fc7 = mx.sym.Convolution(relu6, num_filter=1024, kernel=(1, 1), name='fc7')
    return mx.sym.Activation(fc7, act_type='relu', name='relu7')
