"""Feature extractors: the part of an SSD that turns an image into one map per head."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..model.registry import REGISTRY
from .expander import FeatureExpander
from .network import load_network
from .resnet_v1b import ResNetV1bExtractor
from .vgg_atrous import VGGAtrousExtractor

__all__ = ['build_extractor', 'FeatureExpander', 'VGGAtrousExtractor', 'ResNetV1bExtractor',
           'load_network']

def _count_outputs(block: HybridBlock) -> int:
    return len(block(mx.sym.var('data')))


def build_extractor(network: Union[str, HybridBlock], base_size: int,
                    features: Union[str, Sequence[str], HybridBlock],
                    filters: Sequence[int] = (), min_depth: int = 128, reduce_ratio: float = 1.0,
                    pretrained: Union[bool, str] = False, root: Optional[str] = None,
                    ctx: Optional[mx.Context] = None, extras_kind: str = 'ssd',
                    network_kwargs: Optional[dict] = None) -> Tuple[HybridBlock, List[str]]:
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
    extras_kind : str
        A registered ``extras`` kind: the block that appends them (``'ssd'``:
        :class:`FeatureExpander`).
    network_kwargs : dict, optional
        Passed to the backbone's constructor (``norm_layer``, ``norm_kwargs``).

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
        if not REGISTRY.has('extractor', features):
            raise ValueError('features=%r: a single name must be one of the dedicated extractors '
                             '%s; pass a list of layer names to use a backbone\'s outputs'
                             % (features, REGISTRY.names('extractor')))
        build = REGISTRY.get('extractor', features).load()
        return build(base_size, filters, pretrained, root, ctx, min_depth=min_depth,
                     reduce_ratio=reduce_ratio, network_kwargs=network_kwargs or {})
    features = list(features)
    if not features:
        raise ValueError('features must name at least one backbone output')
    backbone = load_network(network, pretrained, root, ctx, **(network_kwargs or {}))
    expander_class = REGISTRY.get('extras', extras_kind).load()
    expander = expander_class(backbone, features, filters, min_depth=min_depth,
                              reduce_ratio=reduce_ratio)
    return expander, list(expander.feature_names)
