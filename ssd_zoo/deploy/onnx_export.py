"""ONNX export of an SSD, detection step included, for runtimes without MXNet.

``mxnet.onnx`` converts the network body (backbone, extra layers, predictors) but has no
converter for any ``MultiBox*`` operator (apache/mxnet#15181), and GluonCV's SSD fails on
``slice_like`` / ``box_nms``. Here the body goes through ``mxnet.onnx`` up to the raw
predictions (each ``BatchNorm`` with ``fix_gamma`` given gamma = 1, as MXNet computes it:
``mxnet.onnx`` would use the stored gamma, which weight decay moves), and the rest is appended
in standard ONNX operators:

* anchors are constants for the exported input size;
* softmax, then box decoding (the model's box coder, :mod:`ssd_zoo.model.coder`);
* candidates: ``'multibox'`` one per anchor (its best foreground class, as MXNet's
  ``MultiBoxDetection``; boxes clipped to the image) or ``'per_class'`` every (anchor, class)
  pair (GluonCV's decoding); the ``nms_topk`` best go to NMS;
* class-aware ``NonMaxSuppression`` (score above the score threshold, 0.01 by default; IoU
  > ``nms_thresh`` suppressed), then the ``post_nms`` best survivors.

Outputs are the ssd_zoo model's: ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` in
input pixels, best first, invalid rows -1. The batch dimension may be dynamic.
"""
from __future__ import annotations

import importlib
import logging
import os
from typing import Optional, Sequence

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import HybridBlock

from ..defaults import SCORE_THRESH
from ..model.spec import spec_of
from .export import FixedSizeSSD, fused_predictions
from .exportable import check_exportable, fixed_gamma_names, network_context
from .model_info import write_model_info

__all__ = ['export_onnx', 'OnnxDetector', 'OPSET']

log = logging.getLogger(__name__)

#: lowest ONNX opset the detection step is written for (ReduceMax takes its axes as an input
#: from 18); mxnet.onnx writes the newest opset the installed onnx package knows
OPSET = 18


class _RawPredictions(HybridBlock):
    """``x -> (cls_preds, box_preds)`` of a :class:`~ssd_zoo.export.FixedSizeSSD` (fused
    predictors) in inference mode: the part mxnet.onnx converts."""

    def __init__(self, fixed, **kwargs):
        super().__init__(**kwargs)
        self.features, self.predictors = fixed.features, fixed.predictors  # not its anchors
        self._splits, self._num_classes = fixed.splits, fixed.num_classes

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return fused_predictions(F, x, self.features, self.predictors, self._splits,
                                 self._num_classes)


def require_onnx(module: str):
    """Import ``onnx`` or ``onnxruntime``; without them, say which extra installs them."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError("%s is not installed: ONNX export and running .onnx files need the "
                          "[onnx] extra (pip install -e '.[cpu,onnx]'; make installs it)"
                          % module) from None


def export_onnx(net, path: str, input_shape: Sequence[int], dynamic_batch: bool = True,
                network: Optional[str] = None, provenance: Optional[dict] = None) -> str:
    """Write ``net`` with its detection step to an ONNX file, and its model description
    (``<path without .onnx>-model.json``).

    Parameters
    ----------
    net : ssd_zoo.SSD
        An initialized network; its ``set_nms`` settings (mode, thresholds) are exported.
    path : str
        Output ``.onnx`` file (its folder is created).
    input_shape : (B, 3, H, W)
        Input shape; the anchors are constants for ``H x W``.
    dynamic_batch : bool
        Leave the batch dimension free (``B`` is then only used for tracing).
    network : str, optional
        Backbone name recorded in the description (default: ``net.network_name``).

    Raises
    ------
    ValueError
        Uninitialized parameters, or an input smaller than the network's minimum.
    """
    onnx = require_onnx('onnx')
    batch, _, height, width = input_shape
    check_exportable(net, height, width)
    fixed = FixedSizeSSD(net, height, width)
    body = _RawPredictions(fixed)
    body.hybridize()
    with autograd.predict_mode():
        body(mx.nd.zeros(tuple(input_shape), ctx=network_context(net)))
        symbol = body(mx.sym.var('data'))
    symbol = mx.sym.Group(list(symbol))
    params = {p.name: p.data(network_context(net)).as_in_context(mx.cpu())
              for p in body.collect_params().values()}
    params = {k: v for k, v in params.items() if k in set(symbol.list_inputs())}
    for name in fixed_gamma_names(symbol):  # mxnet.onnx would use the stored gamma
        params[name] = mx.nd.ones_like(params[name])
    os.makedirs(os.path.dirname(os.path.abspath(path)) or '.', exist_ok=True)
    shape = (None if dynamic_batch else batch, 3, height, width)
    mx.onnx.export_model(symbol, params, [tuple(input_shape)], [np.float32], path,
                         dynamic=True, dynamic_input_shapes=[shape])
    model = onnx.load(path)
    if model.opset_import[0].version < OPSET:
        raise RuntimeError('the installed onnx %s writes opset %d; the detection step needs '
                           'opset %d or newer (onnx >= 1.13)'
                           % (onnx.__version__, model.opset_import[0].version, OPSET))
    _drop_initializer_inputs(model.graph)
    settings = net.nms_settings
    _append_detection(model.graph, fixed.anchors.data().asnumpy()[0], net.num_classes, width,
                      height, settings, net.decoder.coder)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    write_model_info(os.path.splitext(path)[0],
                     network if network is not None else getattr(net, 'network_name', ''), height,
                     net.classes, format='onnx', nms_mode=settings['mode'],
                     batch=None if dynamic_batch else batch, spec=spec_of(net),
                     **(provenance or {}))
    log.info('exported %s (%s decoding, %s batch)', path, settings['mode'],
             'dynamic' if dynamic_batch else 'fixed')
    return path


def _drop_initializer_inputs(graph) -> None:
    """Weights are constants, not inputs (runtimes can then fold and optimize them)."""
    weights = {init.name for init in graph.initializer}
    kept = [i for i in graph.input if i.name not in weights]
    del graph.input[:]
    graph.input.extend(kept)


class _GraphBuilder:
    """Appends nodes and constants to an ONNX graph with unique names."""

    def __init__(self, graph, prefix='detect'):
        self.graph, self.prefix, self.count = graph, prefix, 0

    def name(self, hint):
        self.count += 1
        return '%s/%s_%d' % (self.prefix, hint, self.count)

    def const(self, value, hint='const', dtype=np.float32):
        from onnx import numpy_helper
        name = self.name(hint)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        from onnx import helper
        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.graph.node.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names


def _append_detection(graph, anchors, num_classes, width, height, settings, coder) -> None:
    """Replace the graph's outputs (cls_preds, box_preds) by ids, scores and bboxes, decoded
    as the network's ``nms_settings`` and box ``coder`` say."""
    from onnx import TensorProto, helper
    mode, nms_topk = settings['mode'], settings['nms_topk']
    g = _GraphBuilder(graph)
    cls_name, box_name = graph.output[0].name, graph.output[1].name
    scale = np.array([width, height] * 2, np.float32)
    if mode == 'per_class':  # GluonCV decodes in pixels and does not clip
        boxes = _decoded_boxes(g, box_name, anchors * scale, coder, clip=False)
    else:
        boxes = _decoded_boxes(g, box_name, anchors, coder, clip=True)
    score, label, box, keep = _candidates(g, cls_name, boxes, num_classes, mode, nms_topk,
                                          anchors.shape[0])
    ids, scores, bboxes, out_count = _suppress_and_rank(
        g, score, label, box, keep, num_classes, settings['nms_thresh'], settings['post_nms'],
        settings.get('score_thresh', SCORE_THRESH))
    if mode == 'multibox':
        bboxes = g.op('Mul', [bboxes, g.const(scale)])
    valid = g.op('GreaterOrEqual', [scores, g.const(0.0)])
    minus_one = g.const(-1.0)
    outputs = {'ids': g.op('Where', [valid, ids, minus_one]),
               'scores': g.op('Where', [valid, scores, minus_one]),
               'bboxes': g.op('Where', [valid, bboxes, minus_one])}
    del graph.output[:]
    for name, source in outputs.items():
        graph.node.append(helper.make_node('Identity', [source], [name]))
        graph.output.append(helper.make_tensor_value_info(
            name, TensorProto.FLOAT, ['batch', out_count, 4 if name == 'bboxes' else 1]))


def _decoded_boxes(g, box_name, anchors, coder, clip):
    """Corners ``(B, N, 4)`` of the box predictions (the box coder's ONNX nodes), clipped to
    the image in ``multibox`` mode as ``MultiBoxDetection`` clips them."""
    boxes = coder.decode_onnx(g, box_name, anchors)
    return g.op('Clip', [boxes, g.const(0.0), g.const(1.0)]) if clip else boxes


def _candidates(g, cls_name, boxes, num_classes, mode, nms_topk, num_anchors):
    """The ``nms_topk`` best candidates: ``score (B, K)``, ``label (B, K)``, ``box (B, K, 4)``.

    ``multibox``: one per anchor, its best foreground class (``MultiBoxDetection``);
    ``per_class``: every (anchor, class) pair (GluonCV).
    """
    probs = g.op('Softmax', [cls_name], axis=2)
    foreground = g.op('Slice', [probs, g.const([1], dtype=np.int64),
                                g.const([num_classes + 1], dtype=np.int64),
                                g.const([2], dtype=np.int64)])
    if mode == 'multibox':
        count = num_anchors
        score = g.op('ReduceMax', [foreground, g.const([2], dtype=np.int64)], keepdims=0)
        label = g.op('ArgMax', [foreground], axis=2, keepdims=0)
    else:
        count = num_anchors * num_classes
        score = g.op('Reshape', [foreground, g.const([0, -1], dtype=np.int64)])
    keep = min(nms_topk, count) if nms_topk > 0 else count
    top_score, top_index = g.op('TopK', [score, g.const([keep], dtype=np.int64)], outputs=2,
                                axis=1)
    if mode == 'multibox':
        anchor_index = top_index
        top_label = g.op('GatherElements', [label, top_index], axis=1)
    else:
        classes = g.const([num_classes], dtype=np.int64)
        anchor_index = g.op('Div', [top_index, classes])
        top_label = g.op('Mod', [top_index, classes])
    top_boxes = g.op('GatherND', [boxes, _unsqueeze_last(g, anchor_index)], batch_dims=1)
    return top_score, top_label, top_boxes, keep


def _suppress_and_rank(g, score, label, boxes, keep, num_classes, nms_thresh, post_nms,
                       score_thresh):
    """Class-aware NMS over the candidates, then the ``post_nms`` best survivors:
    ``ids (B, P, 1)`` (float), ``scores (B, P, 1)`` (-1 where none), ``boxes (B, P, 4)``, P."""
    from onnx import TensorProto, helper
    # each candidate scores only in its own class row: (B, C, keep)
    one_hot = g.op('OneHot', [label, g.const([num_classes], dtype=np.int64),
                              g.const([0.0, 1.0])], axis=-1)
    class_scores = g.op('Transpose', [g.op('Mul', [one_hot, _unsqueeze_last(g, score)])],
                        perm=[0, 2, 1])
    iou = nms_thresh if 0 < nms_thresh < 1 else 1.0  # >= 1: nothing is suppressed
    selected = g.op('NonMaxSuppression', [boxes, class_scores, g.const([keep], dtype=np.int64),
                                          g.const([iou]), g.const([score_thresh])])
    # survivors keep their score, everything else -1
    zeros = g.op('Mul', [class_scores, g.const(0.0)])
    ones = g.op('ConstantOfShape', [g.op('Slice', [g.op('Shape', [selected]),
                                                   g.const([0], dtype=np.int64),
                                                   g.const([1], dtype=np.int64)])],
                value=helper.make_tensor('one', TensorProto.FLOAT, [1], [1.0]))
    kept = g.op('ScatterND', [zeros, selected, ones])
    final = g.op('Where', [g.op('Greater', [kept, g.const(0.5)]), class_scores,
                           g.op('Sub', [zeros, g.const(1.0)])])
    final = g.op('Reshape', [final, g.const([0, -1], dtype=np.int64)])
    out_count = min(post_nms, keep * num_classes) if post_nms > 0 else keep * num_classes
    out_score, out_index = g.op('TopK', [final, g.const([out_count], dtype=np.int64)],
                                outputs=2, axis=1)
    keep_const = g.const([keep], dtype=np.int64)
    out_label = g.op('Cast', [g.op('Div', [out_index, keep_const])], to=TensorProto.FLOAT)
    out_boxes = g.op('GatherND', [boxes, _unsqueeze_last(g, g.op('Mod', [out_index,
                                                                        keep_const]))],
                     batch_dims=1)
    return (_unsqueeze_last(g, out_label), _unsqueeze_last(g, out_score), out_boxes,
            out_count)


def _unsqueeze_last(g, name):
    """``(B, K) -> (B, K, 1)``."""
    return g.op('Unsqueeze', [name, g.const([2], dtype=np.int64)])


class OnnxDetector:
    """Run an exported ONNX SSD with onnxruntime: ``det(x) -> (ids, scores, bboxes)``.

    Parameters
    ----------
    path : str
        The ``.onnx`` file.
    threads : int, optional
        Intra-op threads (default: onnxruntime's choice).
    spin : bool
        Let idle threads spin between runs (onnxruntime's default): lower latency in a tight
        loop, but the spinning steals the cores from whatever runs next in the process.
    """

    def __init__(self, path: str, threads: Optional[int] = None, spin: bool = False):
        ort = require_onnx('onnxruntime')
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry('session.intra_op.allow_spinning', '1' if spin else '0')
        options.log_severity_level = 3
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x):
        if isinstance(x, mx.nd.NDArray):
            x = x.asnumpy()
        return self.session.run(['ids', 'scores', 'bboxes'],
                                {self.input_name: np.asarray(x, np.float32)})
