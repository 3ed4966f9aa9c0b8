"""The one box coder: its encoding is MultiBoxTarget's, its decoding is MultiBoxDetection's
and GluonCV's, and the NumPy, NDArray, Symbol and ONNX paths give the same corners."""
import os
import re

import mxnet as mx
import numpy as np
import pytest

from ssd_zoo.model.coder import BoxCoder

PACKAGE = os.path.join(os.path.dirname(__file__), '..', 'ssd_zoo')


def boxes(rng, count):
    centre = rng.uniform(0.1, 0.9, (count, 2))
    side = rng.uniform(0.02, 0.6, (count, 2))
    return np.concatenate([centre - side / 2, centre + side / 2], 1).astype(np.float32)


@pytest.mark.parametrize('variances', [(0.1, 0.1, 0.2, 0.2), (0.1, 0.2, 0.3, 0.4)])
def test_encoding_is_multibox_targets_bit_for_bit(variances):
    rng = np.random.default_rng(0)
    anchors = boxes(rng, 64)
    gt = boxes(rng, 1)
    label = np.concatenate([[[0]], gt], 1).astype(np.float32)[None]
    loc, mask, _ = mx.nd.contrib.MultiBoxTarget(
        mx.nd.array(anchors[None]), mx.nd.array(label), mx.nd.zeros((1, 2, 64)),
        overlap_threshold=1e-6, variances=variances)
    positive = mask.asnumpy().reshape(64, 4)[:, 0] > 0
    want = loc.asnumpy().reshape(64, 4)[positive]
    got = BoxCoder(variances).encode(anchors[positive], np.repeat(gt, positive.sum(), 0))
    assert positive.sum() > 5
    np.testing.assert_array_equal(got, want)


def test_decoding_inverts_encoding():
    rng = np.random.default_rng(1)
    anchors, gt = boxes(rng, 100), boxes(rng, 100)
    coder = BoxCoder()
    np.testing.assert_allclose(coder.decode_numpy(coder.encode(anchors, gt), anchors), gt,
                               atol=1e-6)


def test_ndarray_and_symbol_decoding_equal_numpy_and_multibox_detection():
    rng = np.random.default_rng(2)
    anchors = boxes(rng, 50)[None]
    offsets = rng.normal(0, 1, (3, 50, 4)).astype(np.float32)
    coder = BoxCoder((0.1, 0.1, 0.2, 0.2))
    want = coder.decode_numpy(offsets, anchors)
    got = coder.decode(mx.nd, mx.nd.array(offsets), mx.nd.array(anchors)).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    sym = coder.decode(mx.sym, mx.sym.var('o'), mx.sym.var('a'))
    out = sym.eval(o=mx.nd.array(offsets), a=mx.nd.array(anchors))[0].asnumpy()
    np.testing.assert_array_equal(out, got)
    # MultiBoxDetection without NMS and threshold keeps every anchor's decoded box
    probs = np.zeros((3, 2, 50), np.float32)
    probs[:, 1] = 1
    dets = mx.nd.contrib.MultiBoxDetection(
        mx.nd.array(probs), mx.nd.array(offsets.reshape(3, -1)), mx.nd.array(anchors),
        clip=False, threshold=-1, nms_threshold=0, variances=coder.variances).asnumpy()
    np.testing.assert_allclose(dets[..., 2:], want, rtol=1e-5, atol=1e-6)


def test_unequal_variances_decode_each_component_with_its_own():
    coder = BoxCoder((0.1, 0.2, 0.3, 0.4))
    anchors = np.array([[[0.2, 0.2, 0.6, 0.4]]], np.float32)
    offsets = np.array([[[1.0, 1.0, 1.0, 1.0]]], np.float32)
    # hand computed: centre (0.4 + 0.1 * 0.4, 0.3 + 0.2 * 0.2), sides 0.4 e^0.3, 0.2 e^0.4
    w, h = 0.4 * np.exp(0.3), 0.2 * np.exp(0.4)
    want = [0.44 - w / 2, 0.34 - h / 2, 0.44 + w / 2, 0.34 + h / 2]
    np.testing.assert_allclose(coder.decode_numpy(offsets, anchors)[0, 0], want, rtol=1e-6)
    got = coder.decode(mx.nd, mx.nd.array(offsets), mx.nd.array(anchors)).asnumpy()
    np.testing.assert_allclose(got[0, 0], want, rtol=1e-6)


def test_onnx_decoding_equals_numpy():
    onnx = pytest.importorskip('onnx')
    ort = pytest.importorskip('onnxruntime')
    from onnx import TensorProto, helper

    from ssd_zoo.deploy.onnx_export import _GraphBuilder
    rng = np.random.default_rng(3)
    anchors = boxes(rng, 30)
    offsets = rng.normal(0, 1, (2, 30, 4)).astype(np.float32)
    coder = BoxCoder((0.1, 0.2, 0.3, 0.4))
    graph = helper.make_graph([], 'decode', [helper.make_tensor_value_info(
        'offsets', TensorProto.FLOAT, [2, 30, 4])], [])
    out = coder.decode_onnx(_GraphBuilder(graph), 'offsets', anchors)
    graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [2, 30, 4]))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=['CPUExecutionProvider'])
    got = session.run(None, {'offsets': offsets})[0]
    np.testing.assert_allclose(got, coder.decode_numpy(offsets, anchors[None]), rtol=1e-5,
                               atol=1e-6)


def test_the_package_writes_the_box_formulas_once():
    """The decoder's exp(offset * variance) and the encoder's log(gt side / anchor side) stand
    only in the coder (the legacy symbols call MultiBox operators instead)."""
    decode = re.compile(r"exp\(.*variance|'Exp'", re.IGNORECASE)
    encode = re.compile(r'log\w*\(g[wh] */')
    where = []
    for base, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith('.py'):
                with open(os.path.join(base, name)) as f:
                    text = f.read()
                if decode.search(text) or encode.search(text):
                    where.append(name)
    assert where == ['coder.py']
