"""Training and inference symbols of the legacy SSD (MXNet ``example/ssd`` API).

``get_symbol_train(**config)`` and ``get_symbol(**config)`` take the dictionaries of
:func:`ssd_zoo.symbol.symbol_factory.get_config`. Unlike the example, keyword arguments that
neither the builder nor the base network knows are an error (the example silently swallowed,
e.g., ``force_nms``), and ``nms_thresh`` / ``force_suppress`` / ``nms_topk`` reach
``MultiBoxDetection``.
"""
from __future__ import annotations

import inspect

import mxnet as mx

from ..defaults import (
    IGNORE_LABEL,
    LEGACY_NMS_THRESH,
    MATCH_IOU,
    NEGATIVE_IOU,
    NEGATIVE_RATIO,
    NMS_TOPK,
    VARIANCES,
)
from .common import multi_layer_feature, multibox_layer
from .networks import NETWORKS

__all__ = ['get_symbol_train', 'get_symbol', 'import_module', 'multibox_outputs',
           'base_network_arguments', 'base_network', 'detection_symbol']


def import_module(module_name: str):
    """The backbone module of a config's ``network`` (``vgg16_reduced``, ``resnet``, ...)."""
    try:
        return NETWORKS[module_name]
    except KeyError:
        raise ValueError('unknown base network %r; known: %s'
                         % (module_name, ', '.join(sorted(NETWORKS)))) from None


def base_network_arguments(network: str) -> list:
    """The keyword arguments the base network module ``network`` takes."""
    return [p for p in inspect.signature(import_module(network).get_symbol).parameters
            if p not in ('num_classes', 'kwargs')]


def base_network(network: str, num_classes: int, kwargs: dict) -> mx.sym.Symbol:
    """The base network symbol; unknown ``kwargs`` raise a TypeError listing the known."""
    accepted = base_network_arguments(network)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError('unknown argument(s) %s for an SSD on %s; the builder takes network, '
                        'num_classes, from_layers, num_filters, strides, pads, sizes, ratios, '
                        'normalizations, steps, min_filter, nms_thresh, force_suppress, '
                        'nms_topk, data_shape and the base network takes %s'
                        % (', '.join(unknown), network, ', '.join(accepted) or 'nothing'))
    return import_module(network).get_symbol(num_classes, **kwargs)


def multibox_outputs(network, num_classes, from_layers, num_filters, strides, pads, sizes,
                     ratios, normalizations=-1, steps=(), min_filter=128, data_shape=None,
                     **kwargs):
    """``loc_preds (B, 4N)``, ``cls_preds (B, C+1, N)``, ``anchors (1, N, 4)`` of an SSD.

    If ``data_shape`` is given, shapes are checked at that input size and a layer that
    collapses to nothing is reported by name.
    """
    body = base_network(network, num_classes, kwargs)
    layers = multi_layer_feature(body, from_layers, num_filters, strides, pads, min_filter)
    if data_shape:
        _check_feature_shapes(layers, data_shape)
    return multibox_layer(layers, num_classes, sizes=sizes, ratios=ratios,
                          normalization=normalizations, num_channels=num_filters, clip=False,
                          interm_layer=0, steps=steps)


def _check_feature_shapes(layers, data_shape) -> None:
    side = data_shape if isinstance(data_shape, (list, tuple)) else (data_shape, data_shape)
    for layer in layers:
        try:
            _, shapes, _ = layer.infer_shape(data=(1, 3) + tuple(side[-2:]))
        except mx.base.MXNetError as err:
            raise ValueError('feature layer %s cannot be computed for a %s input: %s'
                             % (layer.name, side, str(err).splitlines()[0])) from None
        if min(shapes[0][2:]) < 1:
            raise ValueError('feature layer %s is empty (%s) for a %s input'
                             % (layer.name, shapes[0], side))


def get_symbol_train(network, num_classes, from_layers, num_filters, strides, pads, sizes,
                     ratios, normalizations=-1, steps=(), min_filter=128,
                     nms_thresh=LEGACY_NMS_THRESH, force_suppress=False, nms_topk=NMS_TOPK,
                     **kwargs):
    """The training symbol: targets, softmax loss, smooth-L1 loss and monitors.

    Inputs ``data (B, 3, H, W)`` (mean-subtracted pixels) and ``label (B, M, 5)`` rows
    ``[cls, xmin, ymin, xmax, ymax]`` normalized, padding rows -1. Outputs, in order:
    ``cls_prob`` (SoftmaxOutput over the mined anchors), ``loc_loss`` (smooth L1),
    ``cls_label`` and ``det_out`` (``MultiBoxDetection``; both with zero gradient).

    Parameters are those of :func:`multibox_outputs` plus the ``MultiBoxDetection`` settings
    ``nms_thresh``, ``force_suppress`` and ``nms_topk``; base-network arguments (e.g.
    ``num_layers``) go in ``kwargs``.
    """
    loc_preds, cls_preds, anchors = multibox_outputs(
        network, num_classes, from_layers, num_filters, strides, pads, sizes, ratios,
        normalizations, steps, min_filter, **kwargs)
    label = mx.sym.var('label')
    loc_target, loc_mask, cls_target = mx.sym.contrib.MultiBoxTarget(
        anchors, label, cls_preds, overlap_threshold=MATCH_IOU, ignore_label=IGNORE_LABEL,
        negative_mining_ratio=NEGATIVE_RATIO, minimum_negative_samples=0,
        negative_mining_thresh=NEGATIVE_IOU, variances=VARIANCES, name='multibox_target')
    cls_prob = mx.sym.SoftmaxOutput(cls_preds, cls_target, ignore_label=IGNORE_LABEL,
                                    use_ignore=True,
                                    grad_scale=1., multi_output=True, normalization='valid',
                                    name='cls_prob')
    loc_diff = mx.sym.elemwise_mul(loc_mask, mx.sym.elemwise_sub(loc_preds, loc_target,
                                                                  name='loc_diff'),
                                   name='loc_masked_diff')
    loc_loss_ = mx.sym.smooth_l1(loc_diff, scalar=1.0, name='loc_loss_')
    loc_loss = mx.sym.MakeLoss(loc_loss_, grad_scale=1., normalization='valid', name='loc_loss')
    cls_label = mx.sym.MakeLoss(cls_target, grad_scale=0, name='cls_label')
    det = detection_symbol(cls_prob, loc_preds, anchors, nms_thresh, force_suppress, nms_topk)
    det = mx.sym.MakeLoss(det, grad_scale=0, name='det_out')
    return mx.sym.Group([cls_prob, loc_loss, cls_label, det])


def get_symbol(network, num_classes, from_layers, num_filters, sizes, ratios, strides, pads,
               normalizations=-1, steps=(), min_filter=128, nms_thresh=LEGACY_NMS_THRESH,
               force_suppress=False, nms_topk=NMS_TOPK, **kwargs):
    """The inference symbol: ``data`` -> detections ``(B, N, 6)`` rows
    ``[id, score, xmin, ymin, xmax, ymax]`` (normalized; id -1 for none), as ``det_out`` of
    :func:`get_symbol_train`."""
    loc_preds, cls_preds, anchors = multibox_outputs(
        network, num_classes, from_layers, num_filters, strides, pads, sizes, ratios,
        normalizations, steps, min_filter, **kwargs)
    cls_prob = mx.sym.softmax(cls_preds, axis=1, name='cls_prob')
    return detection_symbol(cls_prob, loc_preds, anchors, nms_thresh, force_suppress, nms_topk)


def detection_symbol(cls_prob, loc_preds, anchors, nms_thresh=LEGACY_NMS_THRESH,
                     force_suppress=False, nms_topk=NMS_TOPK):
    """``MultiBoxDetection`` of the legacy graphs (layer ``detection``): ``cls_prob (B, C+1,
    N)``, ``loc_preds (B, 4N)``, ``anchors (1, N, 4)`` -> ``(B, N, 6)`` detections."""
    return mx.sym.contrib.MultiBoxDetection(cls_prob, loc_preds, anchors, name='detection',
                                            nms_threshold=nms_thresh,
                                            force_suppress=force_suppress, variances=VARIANCES,
                                            nms_topk=nms_topk)
