"""Classification networks from GluonCV's model zoo, built reproducibly and loaded offline."""
from __future__ import annotations

import difflib
import logging
from typing import Optional, Union

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..model.registry import REGISTRY
from ..model.weights import find_weights_file

__all__ = ['load_network']

log = logging.getLogger(__name__)

#: GluonCV detection models: building one by name would fetch its backbone's weights
_DETECTION_PREFIXES = ('ssd_', 'yolo', 'faster_rcnn', 'mask_rcnn', 'center_net', 'fcos')


def load_network(network: Union[str, HybridBlock], pretrained: Union[bool, str] = False,
                 root: Optional[str] = None, ctx: Optional[mx.Context] = None,
                 **kwargs) -> HybridBlock:
    """A GluonCV classification network, optionally with its ImageNet weights from disk.

    The network is built in a fresh name scope, so its parameter prefix is the one a fresh
    process gives it (``resnetv10_``, ``mobilenet0_``): weight files written by GluonCV and by
    ssd_zoo use the same names whatever else the process has built.

    Parameters
    ----------
    network : str or HybridBlock
        GluonCV model-zoo name, ``'plainnet'`` (:mod:`ssd_zoo.backbones.plain`), or a block,
        which is returned as it is.
    pretrained : bool or str
        ``True``: GluonCV's ImageNet weights (:func:`ssd_zoo.model.weights.find_weights_file`: your
        ``<root>/<network>.params``, or GluonCV's model store); a string is the path of a
        weights file.
    root : str, optional
        Folder of weight files, default ``$MXNET_HOME/models``.
    ctx : mx.Context, optional
        Where the loaded weights live.
    **kwargs
        Passed to the network's constructor (``norm_layer``, ``norm_kwargs``).
    """
    if isinstance(network, HybridBlock):
        return network
    if network.lower().startswith(_DETECTION_PREFIXES):
        raise ValueError('%r is a detection model, not a classification backbone: '
                         'ssd_zoo.get_model(%r) builds it, and `ssd-zoo anchors %s` shows its '
                         'heads; `ssd-zoo inspect` takes backbones such as resnet50_v1'
                         % (network, network, network))
    with mx.name.NameManager():
        if REGISTRY.has('network', network):  # defined by ssd_zoo, not GluonCV
            net = REGISTRY.get('network', network).load()(pretrained=pretrained, **kwargs)
        else:
            from gluoncv.model_zoo import get_model as gluoncv_model  # heavy import
            from gluoncv.model_zoo import get_model_list
            known = REGISTRY.names('network') + list(get_model_list())
            if network.lower() not in known:
                close = difflib.get_close_matches(network.lower(), known, n=6, cutoff=0.5)
                raise ValueError('unknown backbone %r; closest: %s (any GluonCV classification '
                                 'model-zoo name, or plainnet)'
                                 % (network, ', '.join(close) or '(none)'))
            try:
                net = gluoncv_model(network, pretrained=False, **kwargs)
            except TypeError as err:
                if not any(key in str(err) for key in kwargs):
                    raise
                raise ValueError('backbone %s does not take %s (GluonCV builds it without '
                                 'them): drop them for this network'
                                 % (network, ', '.join(sorted(kwargs)))) from None
    if pretrained:
        path = pretrained if isinstance(pretrained, str) else find_weights_file(network, root)
        log.info('loading %s ImageNet weights from %s', network, path)
        net.load_parameters(path, ctx=ctx or mx.cpu(), ignore_extra=True)
    return net
