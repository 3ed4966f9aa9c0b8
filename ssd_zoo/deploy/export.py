"""Symbol JSON export of hybridized SSDs, and loading them back for Gluon or Module users.

``export_model`` writes the inference graph only (no training outputs). Options for
deployment: ``fixed_size`` stores the anchors of one input size as a constant (no
``MultiBoxPrior`` at run time), ``preprocess`` takes uint8 ``(B, H, W, 3)`` RGB images and
normalizes them inside the graph.
"""
from __future__ import annotations

import logging
import os
import warnings
from typing import Optional, Sequence, Tuple

import mxnet as mx
from mxnet import autograd
from mxnet.gluon import HybridBlock, SymbolBlock, nn

from ..defaults import MEAN, STD
from ..model.spec import input_normalization, spec_of
from .exportable import check_exportable, network_context
from .model_info import NORMALIZED_INPUT, UINT8_INPUT, write_model_info

__all__ = ['export_model', 'import_block', 'load_module', 'FixedSizeSSD', 'WithPreprocessing',
           'fused_predictions', 'export_input']

log = logging.getLogger(__name__)


class FixedSizeSSD(HybridBlock):
    """A deployment snapshot of an SSD for one input size.

    Same detections as the wrapped network at that size, with less work per image: the
    anchors are a stored constant (no ``MultiBoxPrior`` or shape arithmetic at run time), and
    each head's class and box convolutions are fused into one convolution (their weights
    concatenated; half the predictor layers, transposes and - in INT8 - dequantizations).
    The fused weights are copied at construction: rebuild it after changing the network.
    """

    def __init__(self, net, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.features, self.decoder = net.features, net.decoder
        self.num_classes = net.num_classes
        ctx = network_context(net)
        x = mx.nd.zeros((1, 3, height, width), ctx=ctx)
        with autograd.predict_mode():
            _, _, anchors = net.heads(mx.nd, x)
        self.splits = []
        with self.name_scope():
            self.anchors = self.params.get_constant('anchors', anchors.as_in_context(mx.cpu()))
            self.predictors = nn.HybridSequential()
            for cls_pred, box_pred in zip(net.class_predictors, net.box_predictors):
                self.predictors.add(_fused_conv(cls_pred.predictor, box_pred.predictor, ctx))
                self.splits.append(cls_pred.predictor.weight.shape[0])
        self.anchors.initialize(ctx=ctx)

    @property
    def predictor_names(self):
        """Graph names of the fused predictor convolutions (the end of the network body)."""
        return ['%sfwd' % conv.prefix for conv in self.predictors]

    def hybrid_forward(self, F, x, anchors):  # pylint: disable=arguments-differ
        cls_preds, box_preds = fused_predictions(F, x, self.features, self.predictors,
                                                 self.splits, self.num_classes)
        return self.decoder(cls_preds, box_preds, anchors, x)


def fused_predictions(F, x, features, predictors, splits, num_classes):
    """``cls_preds (B, N, C+1)`` and ``box_preds (B, N, 4)`` through the fused predictors of a
    :class:`FixedSizeSSD` (as :meth:`SSD.heads`); callable from any block holding its layers.
    """
    cls_preds, box_preds = [], []
    for feature, conv, split in zip(features(x), predictors, splits):
        y = F.transpose(conv(feature), (0, 2, 3, 1))
        cls_preds.append(F.slice_axis(y, axis=-1, begin=0, end=split)
                         .reshape((0, -1, num_classes + 1)))
        box_preds.append(F.slice_axis(y, axis=-1, begin=split, end=None).reshape((0, -1, 4)))
    return F.concat(*cls_preds, dim=1), F.concat(*box_preds, dim=1)


def _fused_conv(cls_conv, box_conv, ctx) -> nn.Conv2D:
    """One convolution computing both predictors (output channels: class, then box)."""
    weight = mx.nd.concat(cls_conv.weight.data(ctx), box_conv.weight.data(ctx), dim=0)
    bias = mx.nd.concat(cls_conv.bias.data(ctx), box_conv.bias.data(ctx), dim=0)
    kernel = weight.shape[2]
    conv = nn.Conv2D(weight.shape[0], kernel, padding=kernel // 2, in_channels=weight.shape[1])
    conv.initialize(ctx=ctx)
    conv.weight.set_data(weight)
    conv.bias.set_data(bias)
    return conv


class WithPreprocessing(HybridBlock):
    """Takes uint8 ``(B, H, W, 3)`` RGB images, normalizes them as training did, runs ``net``."""

    def __init__(self, net, mean: Sequence[float] = MEAN, std: Sequence[float] = STD, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        with self.name_scope():
            self.mean = self.params.get_constant(
                'mean', mx.nd.array([m * 255 for m in mean]).reshape((1, 3, 1, 1)))
            self.std = self.params.get_constant(
                'std', mx.nd.array([s * 255 for s in std]).reshape((1, 3, 1, 1)))
        for constant in (self.mean, self.std):
            constant.initialize(ctx=network_context(net))

    def hybrid_forward(self, F, x, mean, std):  # pylint: disable=arguments-differ
        x = F.transpose(F.cast(x, 'float32'), (0, 3, 1, 2))
        return self.net(F.broadcast_div(F.broadcast_sub(x, mean), std))


def export_input(input_shape: Sequence[int], ctx: mx.Context, preprocess: bool = False):
    """A zero batch of ``input_shape (B, 3, H, W)`` as the exported graph takes it (uint8
    ``(B, H, W, 3)`` with ``preprocess``), to trace or to run an export once."""
    x = mx.nd.zeros(tuple(input_shape), ctx=ctx)
    return x.transpose((0, 2, 3, 1)).astype('uint8') if preprocess else x


def export_model(net, prefix: str, input_shape: Sequence[int] = None, epoch: int = 0,
                 ctx: Optional[mx.Context] = None, fixed_size: bool = False,
                 preprocess: bool = False, network: Optional[str] = None,
                 provenance: Optional[dict] = None) -> Tuple[str, str]:
    """Write ``PREFIX-symbol.json``, ``PREFIX-%04d.params`` of the inference graph and the
    model description ``PREFIX-model.json`` (classes, input size and format).

    Parameters
    ----------
    net : ssd_zoo.SSD
        An initialized network (hybridized here if it is not yet).
    prefix : str
        Output path prefix; its folder is created.
    input_shape : sequence of int, optional
        ``(B, 3, H, W)`` traced once to build the graph; default one image at the base size.
        Without ``fixed_size`` the exported graph accepts other sizes too.
    fixed_size : bool
        Store the anchors of ``H x W`` as a constant (:class:`FixedSizeSSD`): faster, but the
        graph then only takes that size.
    preprocess : bool
        The graph takes uint8 ``(B, H, W, 3)`` RGB images (:class:`WithPreprocessing`).
    network : str, optional
        Backbone name recorded in the description (default: ``net.network_name``).

    Returns
    -------
    (str, str)
        Paths of the symbol and the parameters file.

    Raises
    ------
    ValueError
        The network has uninitialized parameters, or ``input_shape`` is below its minimum.
    """
    input_shape = tuple(input_shape or (1, 3, net.base_size, net.base_size))
    check_exportable(net, *input_shape[2:])
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    block = FixedSizeSSD(net, *input_shape[2:]) if fixed_size else net
    if preprocess:
        block = WithPreprocessing(block, **input_normalization(net))
    block.hybridize()
    with autograd.predict_mode():
        block(export_input(input_shape, ctx or network_context(net), preprocess))
    block.export(prefix, epoch=epoch)
    write_model_info(prefix, network if network is not None else getattr(net, 'network_name', ''),
                     input_shape[2], net.classes,
                     UINT8_INPUT if preprocess else NORMALIZED_INPUT, format='symbol',
                     fixed_size=fixed_size, epoch=epoch, min_input_size=net.min_input_size(),
                     spec=spec_of(net), **(provenance or {}))
    symbol_file, params_file = '%s-symbol.json' % prefix, '%s-%04d.params' % (prefix, epoch)
    log.info('exported %s and %s', symbol_file, params_file)
    return symbol_file, params_file


def import_block(prefix: str, epoch: int = 0, ctx: Optional[mx.Context] = None) -> SymbolBlock:
    """Load an exported SSD as a Gluon ``SymbolBlock`` (input ``data``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Cannot decide type')
        return SymbolBlock.imports('%s-symbol.json' % prefix, ['data'],
                                   '%s-%04d.params' % (prefix, epoch), ctx=ctx or mx.cpu())


def load_module(prefix: str, input_shape: Sequence[int], epoch: int = 0,
                ctx: Optional[mx.Context] = None) -> mx.mod.Module:
    """Load an exported SSD as a bound ``mx.mod.Module`` for inference on ``input_shape``."""
    symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, epoch)
    module = mx.mod.Module(symbol, data_names=['data'], label_names=None,
                           context=ctx or mx.cpu())
    module.bind(data_shapes=[('data', tuple(input_shape))], for_training=False)
    module.set_params(arg_params, aux_params)
    return module
