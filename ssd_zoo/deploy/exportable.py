"""What every exporter checks and needs: the network's device, that it can be exported, and
the graph facts converters get wrong."""
from __future__ import annotations

import json
from typing import List

import mxnet as mx

__all__ = ['network_context', 'check_exportable', 'fixed_gamma_names']


def network_context(net) -> mx.Context:
    """The device of the network's (first initialized) parameters; the CPU if none is."""
    for param in net.collect_params().values():
        try:
            return param.list_ctx()[0]
        except (RuntimeError, AssertionError):
            continue
    return mx.cpu()


def check_exportable(net, height: int, width: int) -> None:
    """Raise ValueError naming the problem if ``net`` cannot be exported at ``height x width``:
    an already exported graph, parameters without values, or an input below the minimum."""
    if not hasattr(net, 'min_input_size'):
        raise ValueError('this model is already an exported graph (%s): export from the '
                         'training checkpoint (--checkpoint) or the zoo model (--model) instead'
                         % type(net).__name__)
    uninitialized = net.uninitialized()
    if uninitialized:
        raise ValueError('cannot export: %d parameters are not initialized (%s ...); call '
                         'net.initialize() or load weights first'
                         % (len(uninitialized), ', '.join(uninitialized[:3])))
    smallest = net.min_input_size()
    if min(height, width) < smallest:
        raise ValueError('cannot export at %dx%d (HxW): every side must be at least %d pixels '
                         'for this SSD (base size %d)' % (height, width, smallest, net.base_size))


def fixed_gamma_names(symbol: mx.sym.Symbol) -> List[str]:
    """The gamma inputs of the ``BatchNorm`` nodes that compute with gamma = 1.

    ``fix_gamma`` is the symbol operator's default (GluonCV's extra layers, the MXNet
    example's networks keep it): MXNet then ignores the stored gamma, which weight decay still
    moves away from 1 during training (apache/mxnet#9624). Converters that read the stored
    value (``mxnet.onnx`` does) compute a different network.
    """
    nodes = json.loads(symbol.tojson())['nodes']
    names = []
    for node in nodes:
        fixed = node.get('attrs', {}).get('fix_gamma', 'True')
        if node['op'] == 'BatchNorm' and fixed.lower() in ('true', '1'):
            names.append(nodes[node['inputs'][1][0]]['name'])
    return names
