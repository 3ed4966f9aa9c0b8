"""Reduced-precision CPU inference: INT8 post-training quantization and BF16, with oneDNN.

Both work on a :class:`~ssd_zoo.export.FixedSizeSSD` (anchors stored for one input size) and
convert only the *body*: the backbone, the extra layers and the predictor convolutions. Every
operator after the predictors (reshapes, concatenations, softmax, decoding, NMS) stays FP32:
quantized flatten/concat layers there are what made GluonCV's INT8 SSDs segfault (its users
exclude them by hand), and they cost little. The kept layers are found in the graph, not
listed by hand, and returned so that scripts can show them.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import mxnet as mx

from ..data.loader import make_loader
from ..data.preprocess import normalize_batch
from ..data.transforms import ValTransform
from ..model.spec import spec_of
from ..runtime import cpu_flags, isa_cap
from .export import FixedSizeSSD, import_block
from .exportable import check_exportable, network_context
from .model_info import write_model_info

__all__ = ['quantize_int8', 'to_bfloat16', 'bf16_supported', 'Converted', 'CALIB_MODES',
           'BF16_UNAVAILABLE', 'calibration_batches']

log = logging.getLogger(__name__)

CALIB_MODES = ('naive', 'entropy')


@dataclass
class Converted:
    """A converted network and the layers that stayed FP32.

    Attributes
    ----------
    net : mx.gluon.SymbolBlock
        Hybridized, input ``data (B, 3, H, W)`` of the size it was converted for; returns
        ``ids, scores, bboxes`` as the SSD does.
    fp32_layers : list of (name, operator)
        The operators kept in FP32 (everything after the predictors).
    input_shape : tuple
        The input shape ``(B, 3, H, W)`` it was built for.
    precision : str
        ``'int8'`` or ``'bf16'``.
    classes : list of str
        The network's classes (written to the model description).
    network : str
        The backbone name (written to the model description).
    """

    net: mx.gluon.SymbolBlock
    fp32_layers: List[Tuple[str, str]]
    input_shape: tuple
    precision: str
    classes: List[str]
    network: str = ''
    #: the model description of the network it was converted from (JSON form)
    spec: Optional[dict] = None

    def summary(self) -> str:
        """``'40 layers kept FP32 (12 Concat, 8 Reshape, ...)'``."""
        ops = Counter(op for _, op in self.fp32_layers)
        return '%d layers kept FP32 (%s)' % (len(self.fp32_layers), ', '.join(
            '%d %s' % (n, op) for op, n in ops.most_common()))

    def export(self, prefix: str, provenance: Optional[dict] = None) -> Tuple[str, str]:
        """Write ``PREFIX-symbol.json`` / ``PREFIX-0000.params`` and the model description
        ``PREFIX-model.json`` (reload with :func:`ssd_zoo.deploy.load_detector`);
        ``provenance`` (:meth:`ssd_zoo.deploy.Detector.provenance`) is recorded with it."""
        os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
        self.net(mx.nd.zeros(self.input_shape))  # export writes what the traced graph uses
        self.net.export(prefix)
        write_model_info(prefix, self.network, self.input_shape[2], self.classes,
                         format='symbol', fixed_size=True, precision=self.precision,
                         batch=self.input_shape[0], spec=self.spec, **(provenance or {}))
        return '%s-symbol.json' % prefix, '%s-0000.params' % prefix


def _fixed_size_graph(net, input_shape):
    """``(SymbolBlock, layers after the predictors)`` of the fixed-size inference graph.

    The converters take the exported graph rather than the Gluon block: it is exactly the graph
    that ships, and its node names locate the predictors.
    """
    check_exportable(net, *input_shape[2:])
    block = FixedSizeSSD(net, *input_shape[2:])
    block.hybridize(static_alloc=True, static_shape=True)
    with mx.autograd.predict_mode():
        block(mx.nd.zeros(tuple(input_shape), ctx=network_context(net)))
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, 'fp32')
        block.export(prefix)
        graph = import_block(prefix)
        symbol = mx.sym.load(prefix + '-symbol.json')
    return graph, _head_layers(symbol, block.predictor_names)


def _head_layers(symbol: mx.sym.Symbol, predictor_names: Sequence[str]):
    """``[(name, op)]`` of the operators that are not ancestors of a predictor convolution."""
    nodes = json.loads(symbol.tojson())['nodes']
    body = set()
    stack = [i for i, n in enumerate(nodes) if n['name'] in predictor_names]
    if len(stack) != len(predictor_names):
        raise RuntimeError('predictor layers %s not found in the exported graph'
                           % sorted(set(predictor_names) - {nodes[i]['name'] for i in stack}))
    while stack:
        index = stack.pop()
        if index in body:
            continue
        body.add(index)
        stack.extend(entry[0] for entry in nodes[index]['inputs'])
    return [(n['name'], n['op']) for i, n in enumerate(nodes)
            if i not in body and n['op'] != 'null']


def calibration_batches(dataset, side: int, count: int, ctx=None, batch_size: int = 16,
                        normalization: Optional[dict] = None):
    """The first ``count`` images of ``dataset``, resized and normalized as for inference
    (``normalization``: the network's ``{'mean', 'std'}``,
    :func:`ssd_zoo.model.spec.input_normalization`; ImageNet's by default).

    Calibrate on images like those the model will see (its training split): random images
    or random weights give useless ranges.
    """
    loader, _ = make_loader(dataset, ValTransform(side), batch_size, shuffle=False,
                            drop_last=False)
    batches, seen = [], 0
    for images, _ in loader:
        if seen >= count:
            break
        images = images[:count - seen]
        batches.append(normalize_batch(images, ctx=ctx, **(normalization or {})))
        seen += len(images)
    return batches


def _calibration_iter(images, batch_size: int, input_shape):
    """``(NDArrayIter, image count)`` over the calibration images."""
    if isinstance(images, mx.nd.NDArray):
        batches = [images]
    else:
        batches = [b if isinstance(b, mx.nd.NDArray) else mx.nd.array(b) for b in images]
    batches = [b for b in batches if b.shape[0]]
    if not batches:
        raise ValueError('INT8 calibration needs images: the calibration data is empty (give '
                         'at least one image of the data the model will see, e.g. '
                         '--num-calib-images 32)')
    data = mx.nd.concat(*batches, dim=0) if len(batches) > 1 else batches[0]
    if data.shape[1:] != tuple(input_shape[1:]):
        raise ValueError('calibration images have shape %s but the model is quantized for %s '
                         '(resize them with ValTransform and normalize them as for inference)'
                         % (data.shape[1:], tuple(input_shape[1:])))
    return mx.io.NDArrayIter(data=data, batch_size=min(batch_size, data.shape[0]),
                             last_batch_handle='discard'), data.shape[0]


def quantize_int8(net, calib_images: Iterable, input_shape: Sequence[int],
                  calib_mode: str = 'naive', batch_size: int = 16) -> Converted:
    """Post-training INT8 quantization of an SSD for one input size (oneDNN).

    Parameters
    ----------
    net : ssd_zoo.SSD
        A trained network.
    calib_images : NDArray or iterable of NDArray
        Normalized images ``(n, 3, H, W)`` (as the network takes them), e.g. a few dozen of
        the training set (:func:`calibration_batches`). Random weights or random images give
        useless ranges.
    input_shape : (B, 3, H, W)
        Input shape of the quantized model.
    calib_mode : str
        ``'naive'`` (min/max of the layer outputs) or ``'entropy'`` (KL-optimal thresholds).

    Raises
    ------
    ValueError
        No calibration images, wrong image shape, unknown mode, or an unexportable network.
    """
    from mxnet.contrib.quantization import quantize_net_v2
    if calib_mode not in CALIB_MODES:
        raise ValueError('calibration mode must be one of %s, got %r' % (CALIB_MODES, calib_mode))
    input_shape = tuple(input_shape)
    calib, count = _calibration_iter(calib_images, batch_size, input_shape)
    graph, head = _fixed_size_graph(net, input_shape)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Cannot decide type')
        quantized = quantize_net_v2(graph, quantized_dtype='auto', quantize_mode='smart',
                                    exclude_layers=[name for name, _ in head],
                                    calib_data=calib, calib_mode=calib_mode,
                                    num_calib_examples=count, ctx=mx.cpu())
    quantized.hybridize(static_alloc=True, static_shape=True)
    log.info('quantized to INT8 with %d calibration images (%s); %d layers kept FP32',
             count, calib_mode, len(head))
    return Converted(quantized, head, input_shape, 'int8', list(net.classes),
                     getattr(net, 'network_name', ''), spec_of(net))


# oneDNN's ISA cap (DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA) values that still allow BF16
_BF16_ISA_CAPS = ('AVX512_CORE_BF16', 'AVX512_CORE_FP16', 'AVX512_CORE_AMX',
                  'AVX512_CORE_AMX_FP16', 'ALL')
BF16_UNAVAILABLE = ('this CPU has no BF16 instructions (avx512_bf16 / amx_bf16), or '
                    'DNNL_MAX_CPU_ISA excludes them: BF16 inference would be slower than FP32 '
                    'here')


def bf16_supported() -> bool:
    """Whether oneDNN can use native BF16 instructions (AVX512-BF16 or AMX) here: the CPU has
    them and oneDNN's ISA cap, if set, does not exclude them."""
    cap = isa_cap()
    if cap and cap not in _BF16_ISA_CAPS:
        return False
    return bool(cpu_flags() & {'avx512_bf16', 'amx_bf16'})


def to_bfloat16(net, input_shape: Sequence[int]) -> Converted:
    """The SSD with its body in BF16 (oneDNN) for one input size; decoding stays FP32.

    Raises
    ------
    RuntimeError
        The CPU has no BF16 instructions, or oneDNN's ISA cap excludes them.
    """
    from mxnet.contrib import amp
    if not bf16_supported():
        raise RuntimeError(BF16_UNAVAILABLE)
    input_shape = tuple(input_shape)
    graph, head = _fixed_size_graph(net, input_shape)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Cannot decide type')
        converted = amp.convert_hybrid_block(graph, target_dtype='bfloat16', ctx=mx.cpu(),
                                             excluded_sym_names=[name for name, _ in head],
                                             cast_optional_params=False)
    converted.hybridize(static_alloc=True, static_shape=True)
    return Converted(converted, head, input_shape, 'bf16', list(net.classes),
                     getattr(net, 'network_name', ''), spec_of(net))
