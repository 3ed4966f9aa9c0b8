"""What every exporter checks and needs: the network's device, and that it can be exported."""
from __future__ import annotations

import mxnet as mx

__all__ = ['network_context', 'check_exportable']


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
