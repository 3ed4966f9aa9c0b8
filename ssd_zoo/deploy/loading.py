"""Load a detector from what a user has: a training checkpoint, an exported symbol, or a zoo
name. Every source gives the network, its class names and its input size."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import List, Optional

import mxnet as mx

__all__ = ['Detector', 'load_detector', 'write_model_info', 'read_model_info']

INFO_SUFFIX = '-model.json'


@dataclass
class Detector:
    """A callable network ``net(x) -> (ids, scores, boxes)`` with what it was trained for."""

    net: object
    classes: List[str]
    data_shape: int
    source: str
    network: str = ''


#: ``input`` of a model info: what the exported graph takes
NORMALIZED_INPUT = 'float32 NCHW, ImageNet-normalized'
UINT8_INPUT = 'uint8 NHWC RGB'


def write_model_info(prefix: str, network: str, data_shape: int, classes,
                     input_format: str = NORMALIZED_INPUT, **extra) -> str:
    """``<prefix>-model.json``: what is needed to rebuild or interpret a saved model.

    ``network`` is the backbone name training scripts take (``--network``), e.g. ``plainnet``;
    ``input_format`` says what the graph takes; ``extra`` (e.g. ``precision='int8'``) is stored
    as given.
    """
    path = prefix + INFO_SUFFIX
    with open(path, 'w') as f:
        json.dump(dict({'network': network, 'data_shape': data_shape, 'classes': list(classes),
                        'input': input_format}, **extra), f, indent=1)
    return path


def read_model_info(prefix: str) -> dict:
    """The info written by :func:`write_model_info` (or a training checkpoint's JSON)."""
    for path in (prefix + INFO_SUFFIX, prefix + '.json'):
        if os.path.isfile(path):
            with open(path) as f:
                info = json.load(f)
            return info.get('model', info)
    raise FileNotFoundError('no model description next to %s (expected %s or %s.json)'
                            % (prefix, prefix + INFO_SUFFIX, prefix))


def load_detector(checkpoint: Optional[str] = None, symbol: Optional[str] = None,
                  model: Optional[str] = None, root: Optional[str] = None,
                  ctx: Optional[mx.Context] = None, onnx: Optional[str] = None) -> Detector:
    """Exactly one of: ``checkpoint`` (training prefix, e.g. ``runs/x/best``), ``symbol``
    (export prefix, e.g. ``model/ssd``), ``model`` (zoo name, weights from ``root``), ``onnx``
    (an exported ``.onnx`` file, run with onnxruntime).

    Every returned ``net`` takes normalized ``(B, 3, H, W)`` float images.

    Raises
    ------
    ValueError
        Not exactly one source, or an export that takes uint8 images (``--preprocess``): those
        are for deployment, evaluate the checkpoint or a normalized export instead.
    """
    chosen = [s for s in (checkpoint, symbol, model, onnx) if s]
    if len(chosen) != 1:
        raise ValueError('give exactly one of a checkpoint, an exported symbol or ONNX file, '
                         'or a zoo model')
    if onnx:
        from .onnx_export import OnnxDetector
        info = read_model_info(os.path.splitext(onnx)[0])
        return Detector(OnnxDetector(onnx), info['classes'], info['data_shape'], onnx,
                        info.get('network', ''))
    ctx = ctx or mx.cpu()
    import ssd_zoo
    if model:
        net = ssd_zoo.get_model(model, pretrained=True, root=root, ctx=ctx)
        net.hybridize()
        return Detector(net, net.classes, net.base_size, model,
                        ssd_zoo.zoo.lookup(model)[0].backbone)
    if symbol:
        from .export import import_block
        info = read_model_info(symbol)
        if info.get('input', NORMALIZED_INPUT) != NORMALIZED_INPUT:
            raise ValueError('%s takes %s images (exported with --preprocess, for deployment); '
                             'evaluate the checkpoint or an export without --preprocess'
                             % (symbol, info['input']))
        return Detector(import_block(symbol, ctx=ctx), info['classes'], info['data_shape'],
                        symbol, info.get('network', ''))
    info = read_model_info(checkpoint)
    net = ssd_zoo.zoo.model_for_network(info['network'], info['data_shape'], info['classes'],
                                        pretrained_base=False)
    from .weights import load_weights
    load_weights(net, checkpoint + '.params', ctx)
    net.hybridize()
    return Detector(net, list(info['classes']), info['data_shape'], checkpoint,
                    info['network'])
