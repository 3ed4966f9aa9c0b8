"""Inception-v3 (Szegedy et al., 2016) with the names of MXNet's image-classification symbol.

Blocks are ``mixed`` ... ``mixed_10``; each ends in ``ch_concat_<block>_chconcat``, the names the
SSD example's configs use (``ch_concat_mixed_7_chconcat`` at stride 16,
``ch_concat_mixed_10_chconcat`` at stride 32).
"""
import mxnet as mx

from .layers import conv_bn_act

# A tower is a list of (filters, kernel, stride, pad); a block is its towers plus a pooling
# tower ``(pool_type, stride, projection filters or None)``. Tables rather than five functions.
_1, _3, _5 = (1, 1), (3, 3), (5, 5)
_1x7, _7x1, _1x3, _3x1 = (1, 7), (7, 1), (1, 3), (3, 1)
P0, P1, P2 = (0, 0), (1, 1), (2, 2)
P_1x7, P_7x1, P_1x3, P_3x1 = (0, 3), (3, 0), (0, 1), (1, 0)


def _block_a(proj):
    return ([[(64, _1, 1, P0)], [(48, _1, 1, P0), (64, _5, 1, P2)],
             [(64, _1, 1, P0), (96, _3, 1, P1), (96, _3, 1, P1)]], ('avg', 1, proj))


def _block_c(c7):
    return ([[(192, _1, 1, P0)],
             [(c7, _1, 1, P0), (c7, _1x7, 1, P_1x7), (192, _7x1, 1, P_7x1)],
             [(c7, _1, 1, P0), (c7, _7x1, 1, P_7x1), (c7, _1x7, 1, P_1x7),
              (c7, _7x1, 1, P_7x1), (192, _1x7, 1, P_1x7)]], ('avg', 1, 192))


_BLOCK_B = ([[(384, _3, 2, P0)], [(64, _1, 1, P0), (96, _3, 1, P1), (96, _3, 2, P0)]],
            ('max', 2, None))
_BLOCK_D = ([[(192, _1, 1, P0), (320, _3, 2, P0)],
             [(192, _1, 1, P0), (192, _1x7, 1, P_1x7), (192, _7x1, 1, P_7x1),
              (192, _3, 2, P0)]], ('max', 2, None))

#: (block name, towers, pooling tower); 'E' blocks split their last layers (see _tower)
BLOCKS = [('mixed',) + _block_a(32), ('mixed_1',) + _block_a(64), ('mixed_2',) + _block_a(64),
          ('mixed_3',) + _BLOCK_B, ('mixed_4',) + _block_c(128), ('mixed_5',) + _block_c(160),
          ('mixed_6',) + _block_c(160), ('mixed_7',) + _block_c(192),
          ('mixed_8',) + _BLOCK_D]
#: the 'E' blocks: 1x1 320, a 1x1 384 split 1x3/3x1, a 1x1 448 + 3x3 384 split 1x3/3x1
E_BLOCKS = (('mixed_9', 'avg'), ('mixed_10', 'max'))

STEM = (('conv', 32, _3, 2, P0), ('conv_1', 32, _3, 1, P0), ('conv_2', 64, _3, 1, P1), 'pool',
        ('conv_3', 80, _1, 1, P0), ('conv_4', 192, _3, 1, P0), 'pool1')


def _tower(data, name, layers):
    for k, (filters, kernel, stride, pad) in enumerate(layers):
        data = conv_bn_act(data, '%s_conv%s' % (name, '_%d' % k if k else ''), filters, kernel,
                           (stride, stride), pad)
    return data


def _pool_tower(data, block, pool_type, stride, proj):
    pooled = mx.sym.Pooling(data, kernel=(3, 3), stride=(stride, stride),
                            pad=(1, 1) if stride == 1 else (0, 0), pool_type=pool_type,
                            name='%s_pool_%s_pool' % (pool_type, block))
    return _tower(pooled, '%s_tower_pool' % block, [(proj, _1, 1, P0)]) if proj else pooled


def _split(data, name, filters):
    return [conv_bn_act(data, '%s_1x3' % name, filters, _1x3, pad=P_1x3),
            conv_bn_act(data, '%s_3x1' % name, filters, _3x1, pad=P_3x1)]


def _block_e(data, block, pool_type):
    towers = [_tower(data, '%s_tower' % block, [(320, _1, 1, P0)])]
    towers += _split(_tower(data, '%s_tower_1' % block, [(384, _1, 1, P0)]),
                     '%s_tower_1_mixed' % block, 384)
    towers += _split(_tower(data, '%s_tower_2' % block, [(448, _1, 1, P0), (384, _3, 1, P1)]),
                     '%s_tower_2_mixed' % block, 384)
    towers.append(_pool_tower(data, block, pool_type, 1, 192))
    return mx.sym.Concat(*towers, name='ch_concat_%s_chconcat' % block)


def get_symbol(num_classes=1000, **kwargs):
    """The body up to ``ch_concat_mixed_10_chconcat`` (2048 channels, stride 32)."""
    body = mx.sym.var('data')
    for layer in STEM:
        if isinstance(layer, str):
            body = mx.sym.Pooling(body, kernel=(3, 3), stride=(2, 2), pool_type='max',
                                  name=layer)
        else:
            name, filters, kernel, stride, pad = layer
            body = conv_bn_act(body, name, filters, kernel, (stride, stride), pad)
    for block, towers, (pool_type, stride, proj) in BLOCKS:
        outs = [_tower(body, '%s_tower_%d' % (block, k), layers)
                for k, layers in enumerate(towers)]
        outs.append(_pool_tower(body, block, pool_type, stride, proj))
        body = mx.sym.Concat(*outs, name='ch_concat_%s_chconcat' % block)
    for block, pool_type in E_BLOCKS:
        body = _block_e(body, block, pool_type)
    return body
