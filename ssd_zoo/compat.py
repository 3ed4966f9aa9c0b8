"""Every use of a private MXNet or GluonCV attribute, each with the reason it is needed.

mxnet 1.9.1 and gluoncv 0.10.5 are the pinned versions; if a later release renames one of
these attributes, this module is the only place to change.
"""
from __future__ import annotations

from typing import Dict

import mxnet as mx
from mxnet import gluon

__all__ = ['has_value', 'is_uninitialized', 'load_param_value', 'structural_params',
           'clear_cached_graph', 'is_hybridized', 'set_conv_stride', 'voc_recall_precision',
           'gluoncv_sha1_table',
           'BroadcastFirstTrainer']


def has_value(param: gluon.Parameter) -> bool:
    """Whether ``param`` holds data. ``Parameter.data()`` raises instead of answering, and
    ``list_ctx()`` also answers for a deferred initialization that has no data yet."""
    return param._data is not None  # pylint: disable=protected-access


def is_uninitialized(param: gluon.Parameter) -> bool:
    """No data and no deferred initialization pending (``initialize()`` was never called)."""
    return param._data is None and not param._deferred_init  # pylint: disable=protected-access


def load_param_value(param: gluon.Parameter, value: mx.nd.NDArray, ctx) -> None:
    """Give ``param`` the value ``value`` on ``ctx`` whether or not it was initialized: the
    path ``Block.load_parameters`` takes, which ``set_data`` (initialized only) lacks."""
    param._load_init(value, ctx)  # pylint: disable=protected-access


def structural_params(block: gluon.Block) -> Dict[str, gluon.Parameter]:
    """Parameters by structural name (``features.stages.5.2.weight``), the names of
    ``save_parameters`` files; Gluon exposes them only privately."""
    return block._collect_params_with_prefix()  # pylint: disable=protected-access


def clear_cached_graph(block: gluon.HybridBlock) -> None:
    """Drop a hybridized block's cached graph so that it re-traces on the next call (after a
    change of mode, classes or decoder); Gluon has no public call for it."""
    block._clear_cached_op()  # pylint: disable=protected-access


def is_hybridized(block: gluon.HybridBlock) -> bool:
    """Whether ``hybridize()`` is in effect for ``block``."""
    return bool(block._active)  # pylint: disable=protected-access


def set_conv_stride(conv: gluon.nn.Conv2D, stride) -> None:
    """Change the stride of a built convolution (GluonCV's ``resnet34_v1b_ssd`` does the
    same): Gluon keeps it in the private kwargs passed to the operator."""
    conv._kwargs['stride'] = tuple(stride)  # pylint: disable=protected-access


def gluoncv_sha1_table() -> Dict[str, str]:
    """GluonCV's table of published weights, ``{name: sha1}``: the model store keeps it in a
    private dict and offers only ``short_hash`` (8 characters) publicly."""
    from gluoncv.model_zoo import model_store
    return model_store._model_sha1  # pylint: disable=protected-access


def voc_recall_precision(metric):
    """Per-class recall and precision arrays of a GluonCV ``VOCMApMetric`` (for PR curves);
    GluonCV computes them only in a private method."""
    return metric._recall_prec()  # pylint: disable=protected-access


class BroadcastFirstTrainer(gluon.Trainer):
    """A Trainer whose initial weight broadcast completes before any gradient is pushed.

    With ``update_on_kvstore=False`` a key of a ``dist_sync`` KVStore first holds the weights
    (rank 0's, pulled by every worker) and then the summed gradients. The pull of the weights
    and the first gradient push use different buffers, so MXNet's engine may send the push
    first; when both workers' pushes reach the server before a worker's pull, that worker
    receives the gradient sum as its weights. Measured here (mxnet 1.9.1, CPU): one run in four
    started from corrupted weights, identically on both workers. Waiting at the end of the
    Trainer's private parameter initialization removes the race (0 in 26 runs).
    """

    def _init_params(self):
        super()._init_params()
        mx.nd.waitall()
