"""The legacy SSD networks as Gluon :class:`~ssd_zoo.model.ssd.SSD` models.

``legacy_ssd('resnet101', 512, classes)`` builds the base network and extra layers of the
legacy symbol (same layers, same parameter names as ``get_symbol_train``) and puts ssd_zoo's
heads, anchors and decoder on them, so the shared training loop, evaluation, export and
deployment all work on it. Anchors equal the legacy ``MultiBoxPrior`` anchors at the base size.
"""
from __future__ import annotations

import logging
import os
from typing import Optional, Sequence

import mxnet as mx
from mxnet.gluon import HybridBlock, SymbolBlock

from .. import compat
from ..defaults import STD
from ..model.anchors import AnchorLayout
from ..model.registry import LEGACY_NETWORKS
from ..model.spec import DecodeSpec, SSDSpec
from ..model.ssd import SSD
from .common import multi_layer_feature, normalize_layers, per_layer_ratios, per_layer_sizes
from .symbol_builder import base_network
from .symbol_factory import BUILDER_OPTIONS, get_config

__all__ = ['legacy_ssd', 'build_legacy', 'LegacyFeatures', 'load_base_checkpoint',
           'LEGACY_NETWORKS']

log = logging.getLogger(__name__)


#: the data pipeline's std, times 255: normalized input -> mean-subtracted pixels
PIXEL_SCALE = tuple(s * 255 for s in STD)


#: keys of a config that are not base-network arguments
_CONFIG_KEYS = ('network', 'data_shape', 'from_layers', 'num_filters', 'strides', 'pads',
                'sizes', 'ratios', 'normalizations', 'steps')


class LegacyFeatures(HybridBlock):
    """The feature maps of a legacy SSD symbol, fed ImageNet-normalized images.

    The legacy symbols (and the ImageNet checkpoints of the MXNet example) take mean-subtracted
    pixels; the input is multiplied by ``std * 255`` first so that ssd_zoo's data pipeline and
    those checkpoints agree.
    """

    def __init__(self, outputs: Sequence[mx.sym.Symbol], **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            scale = mx.nd.array(PIXEL_SCALE).reshape((1, 3, 1, 1))
            self.pixel_scale = self.params.get_constant('pixel_scale', scale)
        group = mx.sym.Group(list(outputs))
        self._symbol = group
        self.body = SymbolBlock(group, mx.sym.var('data'))
        for name, attrs in group.attr_dict().items():  # e.g. the L2 scale's Constant(20)
            if '__init__' in attrs and name in self.body.params:
                self.body.params[name].init = attrs['__init__']

    def parameter_shapes(self, data_shape: int) -> dict:
        """Shapes of the body's parameters for a square input of side ``data_shape``."""
        symbol = self._symbol
        args, _, auxs = symbol.infer_shape(data=(1, 3, data_shape, data_shape))
        names = symbol.list_arguments() + symbol.list_auxiliary_states()
        return {n: tuple(s) for n, s in zip(names, args + auxs) if n != 'data'}

    def hybrid_forward(self, F, x, pixel_scale):  # pylint: disable=arguments-differ
        return self.body(F.broadcast_mul(x, pixel_scale))


def legacy_ssd(network: str, data_shape: int, classes: Sequence[str], **kwargs) -> SSD:
    """An SSD with the layers of the legacy ``network`` configuration.

    Parameters
    ----------
    network : str
        A :data:`LEGACY_NETWORKS` name (``vgg16_reduced``, ``resnet101``, ...).
    data_shape : int
        Input side in pixels.
    classes : sequence of str
        Foreground class names.
    **kwargs
        Config overrides for :func:`~ssd_zoo.symbol.symbol_factory.get_config` (``sizes``,
        ``from_layers``, ``min_filter`` ...) and :class:`~ssd_zoo.model.ssd.SSD` decoding options
        (``nms_thresh``, ``nms_topk``, ``post_nms``, ``nms_mode``, ``score_thresh``).
    """
    ssd_options = {k: kwargs.pop(k) for k in DecodeSpec().keywords() if k in kwargs}
    spec = SSDSpec.legacy(network, data_shape, **kwargs)
    config = get_config(network, data_shape, num_classes=len(classes), **kwargs)
    base_args = {k: v for k, v in config.items()
                 if k not in _CONFIG_KEYS and k not in BUILDER_OPTIONS}
    body = base_network(config['network'], len(classes), base_args)
    layers = multi_layer_feature(body, config['from_layers'], config['num_filters'],
                                 config['strides'], config['pads'], config.get('min_filter', 128))
    layers = normalize_layers(layers, config['normalizations'], config['num_filters'])
    layouts = _layouts(config, layers, data_shape)
    net = SSD(LegacyFeatures(layers, prefix='features_'), layouts, classes, data_shape,
              network_name=network, spec=spec, **ssd_options)
    net.name_in_zoo = 'legacy %s %d' % (network, data_shape)
    return net


def _layouts(config, layers, data_shape):
    """Pixel anchor layouts equal to the legacy ``MultiBoxPrior`` anchors at ``data_shape``."""
    count = len(layers)
    sizes = per_layer_sizes(config['sizes'], count)
    ratios = per_layer_ratios(config['ratios'], count)
    steps = config['steps']
    if not steps:  # legacy -1: one cell of the feature map
        steps = []
        for k, layer in enumerate(layers):
            try:
                _, (shape,), _ = layer.infer_shape(data=(1, 3, data_shape, data_shape))
            except mx.base.MXNetError:
                raise ValueError('data shape %d is too small for the MXNet example\'s %s: its '
                                 'feature layer %d has no map at that size (the example uses '
                                 '300 and 512)' % (data_shape, config['network'], k)) from None
            steps.append(1.0 / shape[2])
    layouts = []
    for k, (size, ratio, step) in enumerate(zip(sizes, ratios, steps)):
        if len(size) != 2:
            raise ValueError('layer %d: the Gluon model takes [size, extra size] per layer, got '
                             '%r (the Module symbols take any number of sizes)' % (k, size))
        # AnchorLayout's extra square is sqrt(size * next_size): choose next_size to give it
        next_size = size[1] ** 2 / size[0]
        layouts.append(AnchorLayout(size[0] * data_shape, next_size * data_shape, tuple(ratio),
                                    step * data_shape))
    return layouts


def load_base_checkpoint(net: SSD, prefix: str, epoch: int,
                         ctx: Optional[mx.Context] = None) -> int:
    """Load a base-network checkpoint in Module format (``PREFIX-%04d.params``) by name.

    Parameters the network does not have (a classifier) are skipped; returns how many were
    loaded.

    Raises
    ------
    FileNotFoundError, ValueError
        The file is missing, or none of its names is a parameter of the network.
    """
    path = '%s-%04d.params' % (prefix, epoch)
    if not os.path.isfile(path):
        raise FileNotFoundError('base network checkpoint %s not found (--pretrained %s '
                                '--epoch %d)' % (path, prefix, epoch))
    saved = {k.split(':', 1)[-1]: v for k, v in mx.nd.load(path).items()}
    params = net.features.body.collect_params()
    matched = sorted(set(saved) & set(params.keys()))
    if not matched:
        raise ValueError('%s has no parameter of the %s base network (file: %s ...; '
                         'network: %s ...)' % (path, net.name_in_zoo,
                                               ', '.join(sorted(saved)[:3]),
                                               ', '.join(sorted(params.keys())[:3])))
    shapes = net.features.parameter_shapes(net.base_size)
    wrong = ['%s: %s in the file, %s in the network' % (n, saved[n].shape, shapes[n])
             for n in matched if saved[n].shape != shapes[n]]
    if wrong:
        raise ValueError('%s does not fit the %s base network: %s'
                         % (path, net.name_in_zoo, '; '.join(wrong[:3])))
    for name in matched:
        compat.load_param_value(params[name], saved[name], ctx or mx.cpu())
    log.info('loaded %d of %d base-network parameters from %s', len(matched),
             len(params.keys()), path)
    return len(matched)


def build_legacy(spec: SSDSpec, classes: Sequence[str], pretrained_base=False, **_) -> SSD:
    """The legacy SSD a ``family='legacy'`` spec describes (the registry's ``legacy``
    builder: :func:`ssd_zoo.build_ssd` and ``--network`` names reach it)."""
    if pretrained_base:
        raise ValueError('%s is a legacy network: load its ImageNet checkpoint with '
                         '--pretrained PREFIX --epoch N instead of --pretrained-base'
                         % spec.network)
    return legacy_ssd(spec.network, spec.base_size, classes, **spec.decoding.keywords(),
                      **spec.options)
