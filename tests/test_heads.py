"""The predictors' block-padded convolution: nn.Conv2D's parameters, outputs and gradients,
computed with oneDNN's channel block on a CPU."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

import ssd_zoo.model.heads as heads
from ssd_zoo.model.heads import BlockPaddedConv2D, ConvPredictor
from ssd_zoo.runtime import conv_channel_block


@pytest.mark.parametrize('isa, block', [('AVX512_CORE_AMX', 16), ('AVX512_CORE', 16),
                                        ('AVX2', 8), ('AVX2_VNNI', 8), ('SSE41', 8)])
def test_the_channel_block_is_the_isas_vector_of_floats(isa, block):
    assert conv_channel_block(isa) == block


def test_the_block_follows_an_isa_cap(monkeypatch):
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX2')
    assert conv_channel_block() == 8


def _pair(channels, in_channels, use_bias, kernel=3):
    """An nn.Conv2D and a BlockPaddedConv2D with the same weights."""
    convs = []
    for cls in (gluon.nn.Conv2D, BlockPaddedConv2D):
        conv = cls(channels, kernel, padding=kernel // 2, in_channels=in_channels,
                   use_bias=use_bias)
        conv.initialize(mx.init.Normal(0.1))
        convs.append(conv)
    for theirs, mine in zip(convs[0].collect_params().values(), convs[1].collect_params().values()):
        mine.set_data(theirs.data())
        if use_bias:
            theirs.set_data(mx.nd.random.normal(shape=theirs.shape))
            mine.set_data(theirs.data())
    return convs


def _forward_backward(conv, x, upstream):
    x = x.copy()
    x.attach_grad()
    with autograd.record():
        y = conv(x)
    y.backward(upstream)
    return y.asnumpy(), x.grad.asnumpy(), [p.grad().asnumpy()
                                           for p in conv.collect_params().values()]


@pytest.mark.parametrize('channels, use_bias, hybridize', [
    (20, True, False), (20, True, True), (30, False, True), (4, True, True), (16, True, True),
    (84, True, True)])
def test_outputs_and_gradients_equal_nn_conv2d(channels, use_bias, hybridize):
    reference, padded = _pair(channels, 12, use_bias)
    if hybridize:
        reference.hybridize()
        padded.hybridize()
    x = mx.nd.random.normal(shape=(2, 12, 9, 7))
    upstream = mx.nd.random.normal(shape=(2, channels, 9, 7))
    expected, got = (_forward_backward(c, x, upstream) for c in (reference, padded))
    assert got[0].shape == expected[0].shape == (2, channels, 9, 7)
    for e, g in zip([expected[0], expected[1]] + expected[2], [got[0], got[1]] + got[2]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
    assert [p.shape for p in padded.collect_params().values()] == \
        [p.shape for p in reference.collect_params().values()]


def test_the_cpu_graph_computes_the_padded_channels(monkeypatch):
    """The padding is really there: the traced graph's convolution has the block's channels
    (and none when the block divides them)."""
    def traced_num_filters(channels):
        conv = BlockPaddedConv2D(channels, 3, padding=1, in_channels=4)
        conv.initialize()
        out = conv(mx.sym.var('data'))
        return sorted(int(node['attrs']['num_filter'])
                      for node in __import__('json').loads(out.tojson())['nodes']
                      if node['op'] == 'Convolution')
    monkeypatch.setattr(heads, 'conv_channel_block', lambda: 16)
    assert traced_num_filters(20) == [32]
    assert traced_num_filters(32) == [32]
    monkeypatch.setattr(heads, 'conv_channel_block', lambda: 8)
    assert traced_num_filters(20) == [24]


def test_predictor_parameters_keep_gluoncv_names_and_shapes():
    pred = ConvPredictor(30, in_channels=8)
    pred.initialize()
    # the structured names save_parameters writes and GluonCV's files hold
    assert {k: v.shape for k, v in pred._collect_params_with_prefix().items()} == {
        'predictor.weight': (30, 8, 3, 3), 'predictor.bias': (30,)}
    assert pred(mx.nd.zeros((1, 8, 5, 5))).shape == (1, 30, 5, 5)
