"""Configurations of the legacy SSD networks (MXNet ``example/ssd/symbol/symbol_factory.py``).

``get_config(network, data_shape, **kwargs)`` returns the keyword arguments of
:func:`ssd_zoo.symbol.symbol_builder.get_symbol_train` / ``get_symbol``. Fixed against the
example:

* ``resnet101`` (and ``resnet152``) take the last units of stages 3 and 4, not ResNet-50's
  ``_plus12`` / ``_plus15`` (which gave a ResNet-101 SSD smaller than the ResNet-50 one);
* ``vgg16_reduced`` at 512 ends its last extra layer at 1x1 with a stride-2 3x3 convolution:
  the example's stride-1 layer stayed 2x2 with a step of the whole image, putting anchor
  centres outside the image. The anchor total changes from 24576 to 24564 (GluonCV's);
* feature layers have stable names (``stage3_unit6_plus``); the legacy names (``_plus12``)
  still work in ``from_layers``;
* unknown networks and unknown keyword arguments raise errors that list what is known.
"""
from __future__ import annotations

import copy
import logging

from .. import defaults
from . import symbol_builder

__all__ = ['get_config', 'get_symbol_train', 'get_symbol', 'NETWORKS']

log = logging.getLogger(__name__)

#: the example's six-layer anchor sizes (fractions of the image) and ratios
S6 = [[.1, .141], [.2, .272], [.37, .447], [.54, .619], [.71, .79], [.88, .961]]
RATIOS6 = [list(r) for r in defaults.ssd_ratios(6)]
#: two backbone layers + four stride-2 extras (every network but vgg16_reduced)
TWO_PLUS_FOUR = dict(num_filters=[-1, -1, 512, 256, 256, 128], strides=[-1, -1, 2, 2, 2, 2],
                     pads=[-1, -1, 1, 1, 1, 1], sizes=S6, ratios=RATIOS6, normalizations=-1,
                     steps=[])


def _resnet(layers, stage3_units):
    return ('resnet', dict(num_layers=layers, image_shape='3,224,224'),
            ['stage3_unit%d_plus' % stage3_units, 'stage4_unit3_plus'])


#: network -> (base network module, its arguments, the two backbone feature layers)
NETWORKS = {
    'inceptionv3': ('inceptionv3', {}, ['ch_concat_mixed_7_chconcat',
                                        'ch_concat_mixed_10_chconcat']),
    'resnet18': ('resnet', dict(num_layers=18, image_shape='3,224,224'),
                 ['stage3_unit2_plus', 'stage4_unit2_plus']),
    'resnet34': _resnet(34, 6),
    'resnet50': _resnet(50, 6),      # the example's _plus12, _plus15
    'resnet101': _resnet(101, 23),   # _plus29, _plus32 (seed 003's fix)
    'resnet152': _resnet(152, 36),   # _plus46, _plus49
    'mobilenet': ('mobilenet', {}, ['conv_12_relu', 'conv_14_relu']),
    'densenet121': ('densenet', dict(num_layers=121), ['DBstage3_concat24',
                                                        'DBstage4_concat16']),
    'vgg16_reduced': ('vgg16_reduced', {}, ['relu4_3', 'relu7']),
}

_VGG_LARGE = dict(  # data_shape >= 448
    num_filters=[512, -1, 512, 256, 256, 256, 256], strides=[-1, -1, 2, 2, 2, 2, 2],
    pads=[-1, -1, 1, 1, 1, 1, 1],
    sizes=[[.07, .1025], [.15, .2121], [.3, .3674], [.45, .5196], [.6, .6708], [.75, .8216],
           [.9, .9721]],
    ratios=[list(r) for r in defaults.ssd_ratios(7)], normalizations=[20, -1, -1, -1, -1, -1, -1])
_VGG_SMALL = dict(
    num_filters=[512, -1, 512, 256, 256, 256], strides=[-1, -1, 2, 2, 1, 1],
    pads=[-1, -1, 1, 1, 0, 0], sizes=S6, ratios=RATIOS6,
    normalizations=[20, -1, -1, -1, -1, -1])
_VGG_STEPS = {512: [8, 16, 32, 64, 128, 256, 512], 300: [8, 16, 32, 64, 100, 300]}

#: keyword arguments of the builder that are not part of a config
BUILDER_OPTIONS = ('num_classes', 'min_filter', 'nms_thresh', 'force_suppress', 'nms_topk')


def get_config(network: str, data_shape: int, **kwargs) -> dict:
    """The builder arguments of ``network`` at input side ``data_shape``.

    Parameters
    ----------
    network : str
        One of :data:`NETWORKS` (``vgg16_reduced``, ``inceptionv3``, ``resnet18`` ...
        ``resnet152``, ``mobilenet``, ``densenet121``).
    data_shape : int
        Input side in pixels (the example's anchors are tuned for 300 and 512).
    **kwargs
        Overrides of config keys (``from_layers``, ``sizes``, ...), builder options
        (``num_classes``, ``nms_thresh``, ``force_suppress``, ``nms_topk``, ``min_filter``) or
        base-network arguments (``num_layers``).

    Returns
    -------
    dict
        ``network`` (the base network module), ``data_shape``, ``from_layers``,
        ``num_filters``, ``strides``, ``pads``, ``sizes``, ``ratios``, ``normalizations``,
        ``steps``, base-network arguments and the given options. Fresh lists every call.

    Raises
    ------
    ValueError
        Unknown network (the message lists the known ones).
    TypeError
        Unknown keyword argument (the message lists the accepted ones).
    """
    if network not in NETWORKS:
        raise ValueError('no SSD configuration for network %r; known networks: %s'
                         % (network, ', '.join(sorted(NETWORKS))))
    module, base_args, features = NETWORKS[network]
    if network == 'vgg16_reduced':
        layout = _VGG_LARGE if data_shape >= 448 else _VGG_SMALL
        steps = _VGG_STEPS.get(data_shape)  # the example set steps at 300 and 512 only
        config = dict(layout, steps=[s / data_shape for s in steps] if steps else [])
    else:
        config = dict(TWO_PLUS_FOUR)
    config['from_layers'] = list(features) + [''] * (len(config['num_filters']) - 2)
    config.update(base_args)
    config = copy.deepcopy(config)
    if data_shape not in (300, 512):
        log.warning('the %s SSD configuration was tuned for 300 and 512 pixel inputs, not %d',
                    network, data_shape)
    accepted = set(config) | set(BUILDER_OPTIONS) | set(
        symbol_builder.base_network_arguments(module))
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise TypeError('unknown argument(s) %s for get_config(%r); accepted: %s'
                        % (', '.join(unknown), network, ', '.join(sorted(accepted))))
    config.update(copy.deepcopy(kwargs))
    config.update(network=module, data_shape=data_shape)
    return config


def get_symbol_train(network: str, data_shape: int, **kwargs):
    """``symbol_builder.get_symbol_train(**get_config(network, data_shape, **kwargs))``."""
    return symbol_builder.get_symbol_train(**get_config(network, data_shape, **kwargs))


def get_symbol(network: str, data_shape: int, **kwargs):
    """``symbol_builder.get_symbol(**get_config(network, data_shape, **kwargs))``."""
    return symbol_builder.get_symbol(**get_config(network, data_shape, **kwargs))
