"""Extractors that bring their own extra layers, selected by ``features='<name>'``
(registered as ``extractor`` and ``network`` in :mod:`ssd_zoo.model.registry`)."""
from __future__ import annotations

import logging

import mxnet as mx

from ..model.weights import find_weights_file
from .resnet_v1b import ResNetV1bExtractor
from .vgg_atrous import VGG_EXTRAS, VGGAtrousExtractor

__all__ = ['vgg16_atrous', 'resnet34_v1b']

log = logging.getLogger(__name__)


def vgg16_atrous(base_size, filters, pretrained, root, ctx, **_):
    # no normalization layers to replace (GluonCV's VGG extractor ignores norm_layer too)
    if base_size not in VGG_EXTRAS:
        raise ValueError('vgg16_atrous has extra layers for base sizes %s, not %d'
                         % (sorted(VGG_EXTRAS), base_size))
    if filters:
        raise ValueError('vgg16_atrous brings its own extra layers; pass filters=None, not %s'
                         % (list(filters),))
    net = VGGAtrousExtractor(16, VGG_EXTRAS[base_size])
    if pretrained:
        path = pretrained if isinstance(pretrained, str) else find_weights_file('vgg16_atrous',
                                                                                root)
        log.info('loading vgg16_atrous ImageNet weights from %s', path)
        net.load_parameters(path, ctx=ctx or mx.cpu(), allow_missing=True)
    names = ['conv4_3', 'fc7'] + ['extra%d' % i for i in range(len(VGG_EXTRAS[base_size]))]
    return net, names


def resnet34_v1b(base_size, filters, pretrained, root, ctx, min_depth=128, reduce_ratio=1.0,
                 network_kwargs=None):
    net = ResNetV1bExtractor('resnet34_v1b', filters or (256, 256, 128, 128), pretrained, root,
                             ctx, min_depth=min_depth, reduce_ratio=reduce_ratio,
                             network_kwargs=network_kwargs)
    return net, list(net.feature_names)
