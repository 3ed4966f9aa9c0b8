"""``PREFIX-model.json``: what a saved model is for (classes, input size, input format).

Every exporter writes it beside its files and every loader reads it, so that a model file is
never separated from the meaning of its outputs.
"""
from __future__ import annotations

import json
import os
from typing import Sequence

from ..fileio import write_json

__all__ = ['write_model_info', 'read_model_info', 'INFO_SUFFIX', 'NORMALIZED_INPUT',
           'UINT8_INPUT']

INFO_SUFFIX = '-model.json'
#: ``input`` of a model info: what the exported graph takes
NORMALIZED_INPUT = 'float32 NCHW, ImageNet-normalized'
UINT8_INPUT = 'uint8 NHWC RGB'


def write_model_info(prefix: str, network: str, data_shape: int, classes: Sequence[str],
                     input_format: str = NORMALIZED_INPUT, **extra) -> str:
    """Write ``<prefix>-model.json``; returns its path.

    ``network`` is the backbone name training scripts take (``--network``), e.g.
    ``plainnet``; ``data_shape`` the input side the model was made for; ``input_format`` what
    the graph takes; ``extra`` (``spec=spec_of(net)``, ``precision='int8'``,
    ``fixed_size=True``, ...) is stored as given.
    """
    return write_json(prefix + INFO_SUFFIX, dict(
        {'network': network, 'data_shape': int(data_shape), 'classes': list(classes),
         'input': input_format}, **extra))


def read_model_info(prefix: str) -> dict:
    """The info written by :func:`write_model_info` (or a training checkpoint's JSON).

    Raises
    ------
    FileNotFoundError
        Saying whether the model itself is missing (and how to write the prefix) or only its
        description.
    """
    for path in (prefix + INFO_SUFFIX, prefix + '.json'):
        if os.path.isfile(path):
            with open(path) as f:
                info = json.load(f)
            return info.get('model', info)
    raise FileNotFoundError(_missing_info_message(prefix))


#: what users append to a prefix by mistake
_SUFFIXES = ('.params', '-symbol.json', '-0000.params', INFO_SUFFIX, '.json', '.onnx', '.states')


def _missing_info_message(prefix: str) -> str:
    for suffix in _SUFFIXES:
        if prefix.endswith(suffix) and prefix != suffix:
            return ('%s: give the prefix without %r (e.g. %s)'
                    % (prefix, suffix, prefix[:-len(suffix)]))
    files = [prefix + s for s in ('.params', '-symbol.json', '.onnx')]
    if not any(os.path.isfile(f) for f in files):
        return ('%s is missing: no %s found (check the path; checkpoints are '
                'runs/<name>/best or last, exports PREFIX as given to the exporter)'
                % (prefix, ', '.join(os.path.basename(f) for f in files)))
    return ('no model description next to %s (expected %s): re-export the model with '
            'scripts/export_ssd.py, which writes it' % (prefix, prefix + INFO_SUFFIX))
