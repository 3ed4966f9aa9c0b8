"""Feature extractors: the part of an SSD that turns an image into one map per head."""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence, Tuple, Union

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..model.weights import find_weights_file
from .expander import FeatureExpander
from .network import load_network
from .resnet_v1b import ResNetV1bExtractor
from .vgg_atrous import VGG_EXTRAS, VGGAtrousExtractor

__all__ = ['build_extractor', 'FeatureExpander', 'VGGAtrousExtractor', 'ResNetV1bExtractor',
           'load_network', 'DEDICATED_EXTRACTORS']

log = logging.getLogger(__name__)

#: extractors that bring their own extra layers, selected by ``features='<name>'``
DEDICATED_EXTRACTORS = ('vgg16_atrous', 'resnet34_v1b')


def _vgg16_atrous(base_size, filters, pretrained, root, ctx, **_):
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


def _resnet34_v1b(base_size, filters, pretrained, root, ctx, min_depth=128, reduce_ratio=1.0):
    net = ResNetV1bExtractor('resnet34_v1b', filters or (256, 256, 128, 128), pretrained, root,
                             ctx, min_depth=min_depth, reduce_ratio=reduce_ratio)
    return net, list(net.feature_names)


_BUILDERS = {'vgg16_atrous': _vgg16_atrous, 'resnet34_v1b': _resnet34_v1b}


def _count_outputs(block: HybridBlock) -> int:
    return len(block(mx.sym.var('data')))


def build_extractor(network: Union[str, HybridBlock], base_size: int,
                    features: Union[str, Sequence[str], HybridBlock],
                    filters: Sequence[int] = (), min_depth: int = 128, reduce_ratio: float = 1.0,
                    pretrained: Union[bool, str] = False, root: Optional[str] = None,
                    ctx: Optional[mx.Context] = None) -> Tuple[HybridBlock, List[str]]:
    """Build the feature extractor of an SSD and name its outputs.

    Parameters
    ----------
    network : str or HybridBlock
        Classification network (GluonCV name or block); unused when ``features`` is a block.
    features : str, sequence of str or HybridBlock
        A dedicated extractor name (``'vgg16_atrous'``, ``'resnet34_v1b'``), the backbone
        output names feeding the first heads, or a block returning every head's map.
    filters : sequence of int
        Extra stride-2 layers appended to the last named feature.

    Returns
    -------
    (HybridBlock, list of str)
        The extractor and one name per output (for messages and tables).
    """
    if isinstance(features, HybridBlock):
        names = getattr(features, 'feature_names', None)
        return features, list(names) if names else [
            'output%d' % i for i in range(_count_outputs(features))]
    if isinstance(features, str):
        if features not in _BUILDERS:
            raise ValueError('features=%r: a single name must be one of the dedicated extractors '
                             '%s; pass a list of layer names to use a backbone\'s outputs'
                             % (features, list(DEDICATED_EXTRACTORS)))
        return _BUILDERS[features](base_size, filters, pretrained, root, ctx,
                                   min_depth=min_depth, reduce_ratio=reduce_ratio)
    features = list(features)
    if not features:
        raise ValueError('features must name at least one backbone output')
    backbone = load_network(network, pretrained, root, ctx)
    expander = FeatureExpander(backbone, features, filters, min_depth=min_depth,
                               reduce_ratio=reduce_ratio)
    return expander, list(expander.feature_names)
