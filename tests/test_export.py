"""Every preset hybridizes, runs at its base size and a non-square size, and exports to symbol
JSON that SymbolBlock.imports and mx.mod.Module reload with identical outputs."""
import mxnet as mx
import numpy as np
import pytest
from helpers.params import one_per_backbone

import ssd_zoo
from ssd_zoo.deploy.export import export_model, import_block, load_module
from ssd_zoo.model.zoo import lookup


def small_classes(name):
    return {'classes': ['a', 'b']} if name.endswith('_custom') else {}


@pytest.mark.parametrize('name', one_per_backbone(ssd_zoo.list_models()))
def test_preset_hybridizes_runs_non_square_and_exports(name, tmp_path, monkeypatch):
    # Module binds through the executor, which otherwise fuses conv+BN with oneDNN and so
    # differs from the Gluon graph in the last bits; unfused, the graphs must agree exactly.
    monkeypatch.setenv('MXNET_SUBGRAPH_BACKEND', 'NONE')
    preset, _ = lookup(name)
    net = ssd_zoo.get_model(name, pretrained_base=False, **small_classes(name))
    net.initialize()
    net.hybridize()
    side = preset.base_size
    base = mx.nd.random.uniform(-1, 1, shape=(1, 3, side, side))
    ids, scores, boxes = net(base)
    assert ids.shape == (1, 100, 1) and scores.shape == (1, 100, 1) and boxes.shape == (1, 100, 4)
    width = side * 4 // 3
    wide = mx.nd.random.uniform(-1, 1, shape=(1, 3, side, width))
    wide_out = net(wide)
    valid = wide_out[0].asnumpy()[0, :, 0] >= 0
    assert valid.any()
    # pixels of the 4:3 input, clipped to it by MultiBoxDetection
    assert np.all(wide_out[2].asnumpy()[0][valid] <= [width, side, width, side])
    prefix = str(tmp_path / 'model')
    export_model(net, prefix)
    block = import_block(prefix)
    for x, expected in ((base, (ids, scores, boxes)), (wide, wide_out)):
        for got, want in zip(block(x), expected):
            np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
    module = load_module(prefix, base.shape)
    module.forward(mx.io.DataBatch([base]), is_train=False)
    for got, want in zip(module.get_outputs(), (ids, scores, boxes)):
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())


def test_export_refuses_uninitialized_network(tmp_path):
    net = ssd_zoo.get_model('ssd_300_mobilenet0.25_custom', classes=['a'], pretrained_base=False)
    with pytest.raises(ValueError, match='not initialized'):
        export_model(net, str(tmp_path / 'x'))


def test_export_refuses_input_below_minimum(tmp_path):
    net = ssd_zoo.get_model('ssd_300_vgg16_atrous_custom', classes=['a'], pretrained_base=False)
    net.initialize()
    with pytest.raises(ValueError, match='at least 257 pixels'):
        export_model(net, str(tmp_path / 'x'), input_shape=(1, 3, 200, 300))
