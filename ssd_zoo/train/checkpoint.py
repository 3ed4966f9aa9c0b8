"""Checkpoints written atomically: weights, optimizer state and the loop's progress.

A checkpoint ``<dir>/<tag>`` is three files, ``.params`` (network), ``.states`` (optimizer),
``.json`` (epoch, best score, history). Each is written to a temporary name and renamed, and
the JSON last, so a checkpoint whose JSON exists is complete even if the run was killed.
"""
from __future__ import annotations

import json
import logging
import os

from ..fileio import atomic_path, write_json

__all__ = ['save_checkpoint', 'load_checkpoint', 'checkpoint_exists']

log = logging.getLogger(__name__)


def save_checkpoint(folder: str, tag: str, net, trainer, state: dict) -> str:
    """Write ``<folder>/<tag>.{params,states,json}``; returns the prefix."""
    os.makedirs(folder, exist_ok=True)
    prefix = os.path.join(folder, tag)
    with atomic_path(prefix + '.params') as tmp:
        net.save_parameters(tmp)
    if trainer is not None:
        with atomic_path(prefix + '.states') as tmp:
            trainer.save_states(tmp)
    write_json(prefix + '.json', state)  # last: a checkpoint with its JSON is complete
    log.info('checkpoint %s (epoch %s)', prefix, state.get('epoch'))
    return prefix


def checkpoint_exists(prefix: str) -> bool:
    """Whether a complete checkpoint is at ``prefix``."""
    return os.path.isfile(prefix + '.json') and os.path.isfile(prefix + '.params')


def load_checkpoint(prefix: str, net, trainer=None, ctx=None) -> dict:
    """Load weights (and optimizer state) of ``prefix``; returns its progress state."""
    if not checkpoint_exists(prefix):
        raise FileNotFoundError('no complete checkpoint at %s (need %s.json and %s.params)'
                                % (prefix, prefix, prefix))
    from ..model.weights import load_weights
    load_weights(net, prefix + '.params', ctx)
    if trainer is not None:
        if not os.path.isfile(prefix + '.states'):
            raise FileNotFoundError('%s.states is missing: cannot resume the optimizer' % prefix)
        trainer.load_states(prefix + '.states')
    with open(prefix + '.json') as f:
        return json.load(f)

