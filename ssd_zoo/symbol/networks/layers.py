"""Named building blocks of the legacy backbone symbols.

Every operator gets an explicit name derived from its block's name, so a network built twice
in one process has the same layer and parameter names both times (MXNet's automatic names,
e.g. ``_plus12``, come from a per-process counter and do not).
"""
import mxnet as mx

__all__ = ['conv_act', 'conv_bn_act', 'bn_act', 'named_add']


def conv_act(data, name, num_filter, kernel=(3, 3), stride=(1, 1), pad=(1, 1), dilate=(1, 1)):
    """``conv<name>`` -> ``relu<name>`` (the VGG naming of Caffe / the MXNet example)."""
    conv = mx.sym.Convolution(data, num_filter=num_filter, kernel=kernel, stride=stride,
                              pad=pad, dilate=dilate, name='conv%s' % name)
    return mx.sym.Activation(conv, act_type='relu', name='relu%s' % name)


def conv_bn_act(data, name, num_filter, kernel=(1, 1), stride=(1, 1), pad=(0, 0), num_group=1,
                fix_gamma=True):
    """``<name>_conv2d`` -> ``<name>_batchnorm`` -> ``<name>_relu`` (Inception / MobileNet)."""
    conv = mx.sym.Convolution(data, num_filter=num_filter, kernel=kernel, stride=stride, pad=pad,
                              num_group=num_group, no_bias=True, name='%s_conv2d' % name)
    bn = mx.sym.BatchNorm(conv, fix_gamma=fix_gamma, eps=2e-5, name='%s_batchnorm' % name)
    return mx.sym.Activation(bn, act_type='relu', name='%s_relu' % name)


def bn_act(data, name, bn_name=None, act_name=None):
    """Pre-activation ``BatchNorm`` -> ``relu`` (ResNet v2 / DenseNet)."""
    bn = mx.sym.BatchNorm(data, fix_gamma=False, eps=2e-5, momentum=0.9,
                          name=bn_name or '%s_bn' % name)
    return mx.sym.Activation(bn, act_type='relu', name=act_name or '%s_relu' % name)


def named_add(lhs, rhs, name):
    """Element-wise sum with a fixed name (``lhs + rhs`` would be named ``_plusN``)."""
    return mx.sym.elemwise_add(lhs, rhs, name=name)
