"""Training checkpoint of a legacy symbol -> inference symbol and parameters.

The training symbol of :func:`~ssd_zoo.symbol.symbol_builder.get_symbol_train` holds the
prediction layers under fixed names (``multibox_loc_pred``, ``multibox_cls_pred``,
``multibox_anchors``); the inference graph is rebuilt on them (softmax + ``MultiBoxDetection``),
so no network configuration is needed and custom configurations deploy as well.
"""
from __future__ import annotations

import json
import logging
from typing import Optional

import mxnet as mx

from ..defaults import LEGACY_NMS_THRESH, NMS_TOPK
from .symbol_builder import detection_symbol

__all__ = ['inference_symbol', 'deploy_checkpoint']

log = logging.getLogger(__name__)

PREDICTIONS = ('multibox_loc_pred', 'multibox_cls_pred', 'multibox_anchors')


def _detection_attrs(train_symbol: mx.sym.Symbol) -> dict:
    for node in json.loads(train_symbol.tojson())['nodes']:
        if node['op'] == '_contrib_MultiBoxDetection':
            return node.get('attrs', {})
    return {}


def inference_symbol(train_symbol: mx.sym.Symbol, nms_thresh: Optional[float] = None,
                     force_suppress: Optional[bool] = None,
                     nms_topk: Optional[int] = None) -> mx.sym.Symbol:
    """The inference graph of a legacy training symbol: ``data`` -> ``(B, N, 6)`` detections.

    NMS settings default to those of the training graph's ``det_out``.

    Raises
    ------
    ValueError
        The symbol is not a legacy SSD training symbol (the missing layer is named).
    """
    internals = train_symbol.get_internals()
    outputs = set(internals.list_outputs())
    missing = [n for n in PREDICTIONS if n + '_output' not in outputs]
    if missing:
        raise ValueError('not an SSD training symbol of ssd_zoo.symbol: no layer %s'
                         % ', '.join(missing))
    loc, cls, anchors = (internals[n + '_output'] for n in PREDICTIONS)
    trained = _detection_attrs(train_symbol)
    if nms_thresh is None:
        nms_thresh = float(trained.get('nms_threshold', LEGACY_NMS_THRESH))
    if force_suppress is None:
        force_suppress = trained.get('force_suppress', 'False') in ('True', 'true', '1')
    if nms_topk is None:
        nms_topk = int(trained.get('nms_topk', NMS_TOPK))
    cls_prob = mx.sym.softmax(cls, axis=1, name='cls_prob')
    return detection_symbol(cls_prob, loc, anchors, nms_thresh, force_suppress, nms_topk)


def deploy_checkpoint(prefix: str, epoch: int, out_prefix: Optional[str] = None,
                      **nms) -> str:
    """Write ``<out_prefix>-symbol.json`` and ``<out_prefix>-<epoch>.params`` for inference.

    Parameters
    ----------
    prefix, epoch : str, int
        The Module training checkpoint (``prefix-symbol.json``, ``prefix-%04d.params``).
    out_prefix : str, optional
        Default ``<prefix>_deploy``.
    **nms
        ``nms_thresh``, ``force_suppress``, ``nms_topk`` overrides.

    Returns
    -------
    str
        ``out_prefix``. Only the parameters the inference graph uses are kept.
    """
    out_prefix = out_prefix or prefix + '_deploy'
    train_symbol, args, auxs = mx.model.load_checkpoint(prefix, epoch)
    symbol = inference_symbol(train_symbol, **nms)
    needed_args, needed_auxs = set(symbol.list_arguments()), set(symbol.list_auxiliary_states())
    missing = sorted((needed_args - {'data'}) - set(args)) + sorted(needed_auxs - set(auxs))
    if missing:
        raise ValueError('%s-%04d.params lacks %s' % (prefix, epoch, ', '.join(missing[:5])))
    mx.model.save_checkpoint(out_prefix, epoch, symbol,
                             {k: v for k, v in args.items() if k in needed_args},
                             {k: v for k, v in auxs.items() if k in needed_auxs})
    log.info('deployed %s-%04d -> %s-symbol.json', prefix, epoch, out_prefix)
    return out_prefix
