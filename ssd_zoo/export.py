"""Symbol JSON export of hybridized SSDs, and loading them back for Gluon or Module users."""
from __future__ import annotations

import logging
import os
import warnings
from typing import Optional, Sequence, Tuple

import mxnet as mx
from mxnet import autograd
from mxnet.gluon import SymbolBlock

__all__ = ['export_model', 'import_block', 'import_module']

log = logging.getLogger(__name__)


def export_model(net, prefix: str, data_shape: Sequence[int] = None, epoch: int = 0,
                 ctx: Optional[mx.Context] = None) -> Tuple[str, str]:
    """Write ``PREFIX-symbol.json`` and ``PREFIX-%04d.params`` of the inference graph.

    Parameters
    ----------
    net : ssd_zoo.SSD
        An initialized network (hybridized here if it is not yet).
    prefix : str
        Output path prefix; its folder is created.
    data_shape : sequence of int, optional
        ``(B, 3, H, W)`` traced once to build the graph; default one image at the base size.
        The exported graph still accepts other sizes.

    Returns
    -------
    (str, str)
        Paths of the symbol and the parameters file.

    Raises
    ------
    ValueError
        The network has uninitialized parameters, or ``data_shape`` is below its minimum.
    """
    uninitialized = net.uninitialized()
    if uninitialized:
        raise ValueError('cannot export: %d parameters are not initialized (%s ...); call '
                         'net.initialize() or load weights first'
                         % (len(uninitialized), ', '.join(uninitialized[:3])))
    data_shape = tuple(data_shape or (1, 3, net.base_size, net.base_size))
    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    net.hybridize()
    with autograd.predict_mode():
        net(mx.nd.zeros(data_shape, ctx=ctx or _first_ctx(net)))
    net.export(prefix, epoch=epoch)
    symbol_file, params_file = '%s-symbol.json' % prefix, '%s-%04d.params' % (prefix, epoch)
    log.info('exported %s and %s', symbol_file, params_file)
    return symbol_file, params_file


def _first_ctx(net) -> mx.Context:
    for param in net.collect_params().values():
        try:
            return param.list_ctx()[0]
        except (RuntimeError, AssertionError):
            continue
    return mx.cpu()


def import_block(prefix: str, epoch: int = 0, ctx: Optional[mx.Context] = None) -> SymbolBlock:
    """Load an exported SSD as a Gluon ``SymbolBlock`` (input ``data``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Cannot decide type')
        return SymbolBlock.imports('%s-symbol.json' % prefix, ['data'],
                                   '%s-%04d.params' % (prefix, epoch), ctx=ctx or mx.cpu())


def import_module(prefix: str, data_shape: Sequence[int], epoch: int = 0,
                  ctx: Optional[mx.Context] = None) -> mx.mod.Module:
    """Load an exported SSD as a bound ``mx.mod.Module`` for inference on ``data_shape``."""
    symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, epoch)
    module = mx.mod.Module(symbol, data_names=['data'], label_names=None,
                           context=ctx or mx.cpu())
    module.bind(data_shapes=[('data', tuple(data_shape))], for_training=False)
    module.set_params(arg_params, aux_params)
    return module
