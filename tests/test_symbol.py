"""The legacy symbolic API (MXNet example/ssd): configs, builders, fixes, Module training,
deployment, and the Gluon model built from the same layers."""
import copy
import json
import math

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from ssd_zoo.data import ShapesSpec, VOCFolder, generate_shapes
from ssd_zoo.model.anchors import corner_anchors
from ssd_zoo.symbol import common, symbol_builder, symbol_factory
from ssd_zoo.symbol.deploy import deploy_checkpoint, inference_symbol
from ssd_zoo.symbol.gluon import legacy_ssd, load_base_checkpoint
from ssd_zoo.symbol.module import DetectionIter, MultiBoxMetric

NETWORKS = sorted(symbol_factory.NETWORKS)

# Anchor totals by hand: sum over feature maps of side^2 x anchors per cell (4 for R3 layers
# with two sizes, 6 for R5), maps from the networks' strides (REFERENCE.md section 3 for the
# published ones: vgg16_reduced 300 -> 8732, resnet 512 -> 6132, inceptionv3 512 -> 5186).
R_2P4_300 = 19 * 19 * 4 + 10 * 10 * 6 + 5 * 5 * 6 + 3 * 3 * 6 + 2 * 2 * 4 + 1 * 4   # 2268
R_2P4_512 = 32 * 32 * 4 + 16 * 16 * 6 + 8 * 8 * 6 + 4 * 4 * 6 + 2 * 2 * 4 + 1 * 4   # 6132
EXPECTED_ANCHORS = {
    ('vgg16_reduced', 300): 8732,
    # the example's 24576 kept its last 2x2 map (16 anchors); the fix ends at 1x1 (4 anchors)
    ('vgg16_reduced', 512): 24576 - 16 + 4,
    ('inceptionv3', 300): 17 * 17 * 4 + 8 * 8 * 6 + 4 * 4 * 6 + 2 * 2 * 6 + 1 * 4 + 1 * 4,
    ('inceptionv3', 512): 5186,
    ('densenet121', 300): 18 * 18 * 4 + 9 * 9 * 6 + 5 * 5 * 6 + 3 * 3 * 6 + 2 * 2 * 4 + 4,
}
for _name in NETWORKS:
    EXPECTED_ANCHORS.setdefault((_name, 512), R_2P4_512)
    EXPECTED_ANCHORS.setdefault((_name, 300), R_2P4_300)


def outputs_by_name(symbol, **shapes):
    _, out_shapes, _ = symbol.infer_shape(**shapes)
    return dict(zip(symbol.list_outputs(), out_shapes))


def evaluate_anchors(anchors, x):
    """Run an anchors symbol (it depends only on shapes; the weights are left unset)."""
    return anchors.simple_bind(mx.cpu(), data=x.shape, grad_req='null').forward(
        data=x)[0].asnumpy()


def parameter_count(symbol, side):
    args, _, _ = symbol.infer_shape(data=(1, 3, side, side), label=(1, 4, 5))
    return sum(int(np.prod(s)) for n, s in zip(symbol.list_arguments(), args)
               if n not in ('data', 'label'))


@pytest.mark.parametrize('network', NETWORKS)
@pytest.mark.parametrize('data_shape', [300, 512])
def test_every_config_builds_with_the_expected_anchor_total(network, data_shape):
    config = symbol_factory.get_config(network, data_shape, num_classes=20)
    train = symbol_builder.get_symbol_train(**config)
    shapes = outputs_by_name(train, data=(2, 3, data_shape, data_shape), label=(2, 4, 5))
    anchors = EXPECTED_ANCHORS[network, data_shape]
    assert shapes['cls_prob_output'] == (2, 21, anchors)
    assert shapes['loc_loss_output'] == (2, 4 * anchors)
    assert shapes['det_out_output'] == (2, anchors, 6)
    infer = symbol_builder.get_symbol(**config)
    assert outputs_by_name(infer, data=(1, 3, data_shape, data_shape)) == {
        'detection_output': (1, anchors, 6)}


def test_vgg16_reduced_512_anchors_all_lie_inside_the_image():
    config = symbol_factory.get_config('vgg16_reduced', 512, num_classes=2)
    _, _, anchors = symbol_builder.multibox_outputs(**config)
    corners = evaluate_anchors(anchors, mx.nd.zeros((1, 3, 512, 512)))[0]
    centres = (corners[:, :2] + corners[:, 2:]) / 2
    assert corners.shape == (24564, 4)
    assert centres.min() > 0 and centres.max() < 1
    # the last layer's 4 anchors are centred on the image (1x1 map)
    np.testing.assert_allclose(centres[-4:], 0.5, atol=1e-6)


@pytest.mark.parametrize('network,units', [('resnet50', (6, 3)), ('resnet101', (23, 3)),
                                           ('resnet152', (36, 3))])
def test_resnet_features_are_the_last_units_of_stages_3_and_4(network, units):
    config = symbol_factory.get_config(network, 512, num_classes=20)
    assert config['from_layers'][:2] == ['stage3_unit%d_plus' % units[0],
                                         'stage4_unit%d_plus' % units[1]]
    body = symbol_builder.base_network('resnet', 20, {'num_layers': config['num_layers']})
    layers = common.multi_layer_feature(body, config['from_layers'][:2], [-1, -1], [-1, -1],
                                        [-1, -1])
    shapes = [outputs_by_name(layer, data=(1, 3, 512, 512)) for layer in layers]
    assert [list(s.values())[0] for s in shapes] == [(1, 1024, 32, 32), (1, 2048, 16, 16)]
    # nothing of the stage after the feature: it is the stage's last unit
    last = config['from_layers'][1].replace('unit%d' % units[1], 'unit%d' % (units[1] + 1))
    with pytest.raises(ValueError, match='no layer named'):
        common.resolve_layer(body, last)


@pytest.mark.parametrize('network,legacy', [('resnet50', ['_plus12', '_plus15']),
                                            ('resnet101', ['_plus29', '_plus32'])])
def test_legacy_plus_names_resolve_to_the_same_layers(network, legacy):
    config = symbol_factory.get_config(network, 512)
    body = symbol_builder.base_network('resnet', 20, {'num_layers': config['num_layers']})
    for old, new in zip(legacy, config['from_layers']):
        assert common.resolve_layer(body, old).name == new
    # and a whole config written with the old names builds the same network
    old_config = symbol_factory.get_config(network, 512, num_classes=3,
                                           from_layers=legacy + [''] * 4)
    new_config = symbol_factory.get_config(network, 512, num_classes=3)
    assert symbol_builder.get_symbol(**old_config).tojson() == \
        symbol_builder.get_symbol(**new_config).tojson()


def test_resnet101_ssd_has_more_parameters_than_resnet50():
    counts = {n: parameter_count(symbol_factory.get_symbol_train(n, 512, num_classes=20), 512)
              for n in ('resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152')}
    assert counts['resnet18'] < counts['resnet34'] < counts['resnet50'] \
        < counts['resnet101'] < counts['resnet152']


@pytest.mark.parametrize('network', NETWORKS)
def test_building_a_network_twice_in_one_process_gives_the_same_graph(network):
    # MXNet's automatic names (transpose12, _plus3) come from a per-process counter, so any
    # unnamed operator would make the second graph differ from the first
    first = symbol_factory.get_symbol_train(network, 300, num_classes=4)
    second = symbol_factory.get_symbol_train(network, 300, num_classes=4)
    assert first.tojson() == second.tojson()


def test_config_errors_name_what_is_known():
    with pytest.raises(ValueError, match='known networks: .*resnet101'):
        symbol_factory.get_config('resnet102', 512)
    with pytest.raises(TypeError, match='force_nms.*accepted: .*force_suppress'):
        symbol_factory.get_config('vgg16_reduced', 300, force_nms=True)
    config = symbol_factory.get_config('vgg16_reduced', 300, num_classes=3)
    with pytest.raises(TypeError, match='force_nms'):
        symbol_builder.get_symbol(force_nms=True, **config)
    with pytest.raises(ValueError, match="no layer named 'relu4_4'.*relu4_3"):
        symbol_factory.get_symbol('vgg16_reduced', 300, num_classes=3,
                                  from_layers=['relu4_4', 'relu7', '', '', '', ''])


def test_building_does_not_modify_the_callers_lists():
    config = symbol_factory.get_config('vgg16_reduced', 300, num_classes=3)
    before = copy.deepcopy(config)
    symbol_builder.get_symbol_train(**config)
    symbol_builder.get_symbol(**config)
    assert config == before
    config['num_filters'].append(99)  # configs are fresh copies
    assert len(symbol_factory.get_config('vgg16_reduced', 300)['num_filters']) == 6


def test_a_size_range_gives_the_examples_table():
    sizes = common.per_layer_sizes([.2, .9], 6)
    np.testing.assert_allclose(sizes, symbol_factory.S6, atol=1e-3)
    symbol = symbol_factory.get_symbol('resnet50', 512, num_classes=3, sizes=[.2, .9])
    assert outputs_by_name(symbol, data=(1, 3, 512, 512))['detection_output'] == (1, 6132, 6)
    with pytest.raises(ValueError, match=r'\[min, max\]'):
        common.per_layer_sizes([.9, .2], 6)


def test_nms_settings_reach_multibox_detection():
    for build in (symbol_factory.get_symbol, symbol_factory.get_symbol_train):
        symbol = build('mobilenet', 300, num_classes=3, nms_thresh=0.3, force_suppress=True,
                       nms_topk=77)
        attrs = [n['attrs'] for n in json.loads(symbol.tojson())['nodes']
                 if n['op'] == '_contrib_MultiBoxDetection']
        assert len(attrs) == 1
        assert (float(attrs[0]['nms_threshold']), attrs[0]['force_suppress'],
                int(attrs[0]['nms_topk'])) == (0.3, 'True', 77)


# -- the Gluon model from the legacy layers --------------------------------------------------

@pytest.mark.parametrize('network,data_shape', [('vgg16_reduced', 300), ('resnet18', 512),
                                                ('inceptionv3', 300)])
def test_gluon_legacy_model_has_the_symbols_anchors_and_parameters(network, data_shape):
    net = legacy_ssd(network, data_shape, ['a', 'b', 'c'])
    net.initialize()
    x = mx.nd.random.uniform(shape=(1, 3, data_shape, data_shape))
    with autograd.train_mode():
        _, _, anchors = net(x)
    config = symbol_factory.get_config(network, data_shape, num_classes=3)
    _, _, reference = symbol_builder.multibox_outputs(**config)
    expected = evaluate_anchors(reference, x)
    corners = corner_anchors(anchors.asnumpy(), data_shape, data_shape)
    np.testing.assert_allclose(corners, expected, atol=1e-6)
    gluon_count = sum(int(np.prod(p.shape)) for n, p in net.collect_params().items()
                      if 'pixel_scale' not in n and not n.endswith(('_mean', '_var')))
    symbol = symbol_builder.get_symbol_train(**config)
    assert gluon_count == parameter_count(symbol, data_shape)
    if network == 'vgg16_reduced':
        np.testing.assert_allclose(net.features.body.params['relu4_3_scale'].data().asnumpy(), 20)


def module_checkpoint(tmp_path, network, side, **kwargs):
    """A Module-format checkpoint of the legacy symbol with random weights."""
    symbol = symbol_factory.get_symbol_train(network, side, num_classes=3, **kwargs)
    mod = mx.mod.Module(symbol, label_names=('label',))
    mod.bind([('data', (1, 3, side, side))], [('label', (1, 4, 5))])
    mod.init_params(mx.init.Uniform(0.1))
    prefix = str(tmp_path / 'base')
    mod.save_checkpoint(prefix, 3)
    return prefix, mod.get_params()


def test_pretrained_module_checkpoint_loads_into_the_gluon_model(tmp_path):
    prefix, (args, auxs) = module_checkpoint(tmp_path, 'mobilenet', 128, multiplier=0.25)
    net = legacy_ssd('mobilenet', 128, ['a', 'b', 'c'], multiplier=0.25)
    loaded = load_base_checkpoint(net, prefix, 3)
    body = net.features.body.params
    assert loaded == len(body.keys())
    for name in ('conv_14_batchnorm_moving_var', 'convmulti_feat_2_conv_3x3_weight'):
        saved = auxs.get(name, args.get(name))
        np.testing.assert_array_equal(body[name].data().asnumpy(), saved.asnumpy())
    with pytest.raises(FileNotFoundError, match='base-0009.params'):
        load_base_checkpoint(net, prefix, 9)
    other = legacy_ssd('resnet18', 128, ['a'])
    with pytest.raises(ValueError, match='does not fit the legacy resnet18 128 base network: '
                                         'convmulti_feat_2_conv_1x1_weight'):
        load_base_checkpoint(other, prefix, 3)
    mx.nd.save(str(tmp_path / 'unrelated-0001.params'), {'arg:fc1_weight': mx.nd.zeros((2, 2))})
    with pytest.raises(ValueError, match='has no parameter of the legacy mobilenet'):
        load_base_checkpoint(net, str(tmp_path / 'unrelated'), 1)


# -- Module training and deployment ----------------------------------------------------------

TINY = ShapesSpec(num_train=32, num_val=8, image_size=96, min_side=16, max_side=60,
                  max_objects=3, seed=1)


@pytest.fixture(scope='module')
def tiny_train(tmp_path_factory):
    return VOCFolder(generate_shapes(str(tmp_path_factory.mktemp('shapes')), TINY), 'train')


def train_module(dataset, network, side, epochs, **kwargs):
    mx.random.seed(0)
    np.random.seed(0)
    symbol = symbol_factory.get_symbol_train(network, side, num_classes=len(dataset.classes),
                                             **kwargs)
    train_iter = DetectionIter(dataset, 8, side, max_objects=8,
                               augment=dict(distort=False, expand=False, crop=False))
    mod = mx.mod.Module(symbol, label_names=('label',))
    metric, history = MultiBoxMetric(), []
    mod.fit(train_iter, eval_metric=metric, optimizer='adam',
            optimizer_params=dict(learning_rate=1e-3), num_epoch=epochs,
            initializer=mx.init.Xavier(rnd_type='gaussian', factor_type='out', magnitude=2),
            epoch_end_callback=lambda *_: history.append(metric.get()[1]))
    return mod, train_iter, history


def check_deployed_equals_det_out(mod, train_iter, tmp_path, epochs):
    prefix = str(tmp_path / 'ssd')
    mod.save_checkpoint(prefix, epochs)
    out = deploy_checkpoint(prefix, epochs)
    train_iter.reset()
    batch = train_iter.next()
    mod.forward(batch, is_train=False)
    det_out = mod.get_outputs()[3].asnumpy()
    deployed = mx.mod.Module.load(out, epochs, label_names=None)
    deployed.bind([('data', batch.data[0].shape)], for_training=False)
    deployed.forward(mx.io.DataBatch(batch.data), is_train=False)
    np.testing.assert_allclose(deployed.get_outputs()[0].asnumpy(), det_out, atol=1e-6)
    block = mx.gluon.SymbolBlock.imports(out + '-symbol.json', ['data'],
                                         '%s-%04d.params' % (out, epochs))
    np.testing.assert_allclose(block(batch.data[0]).asnumpy(), det_out, atol=1e-5)
    assert (det_out[..., 0] >= 0).any()
    with open(out + '-symbol.json') as f:
        assert 'MultiBoxTarget' not in f.read()


def test_module_trains_with_falling_loss_and_deploys(tiny_train, tmp_path, monkeypatch):
    monkeypatch.setenv('MXNET_SUBGRAPH_BACKEND', 'NONE')  # bit-identical executors
    mod, train_iter, history = train_module(tiny_train, 'mobilenet', 128, 5, multiplier=0.25)
    (ce0, l10), (ce1, l11) = history[0], history[-1]
    assert ce1 < 0.5 * ce0 and l11 < l10
    check_deployed_equals_det_out(mod, train_iter, tmp_path, 5)


@pytest.mark.slow
def test_module_trains_vgg16_reduced_300(tiny_train, tmp_path, monkeypatch):
    monkeypatch.setenv('MXNET_SUBGRAPH_BACKEND', 'NONE')
    mod, train_iter, history = train_module(tiny_train, 'vgg16_reduced', 300, 4)
    assert history[-1][0] < history[0][0] and history[-1][1] < history[0][1]
    check_deployed_equals_det_out(mod, train_iter, tmp_path, 4)


def test_inference_symbol_rejects_other_graphs():
    with pytest.raises(ValueError, match='no layer multibox_loc_pred'):
        inference_symbol(mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=2))


def test_detection_iter_labels_are_normalized_multibox_rows(tiny_train):
    it = DetectionIter(tiny_train, 4, 96, train=False, max_objects=5)
    batch = it.next()
    label = batch.label[0].asnumpy()
    assert label.shape == (4, 5, 5)
    image, pixels = tiny_train[0]
    rows = label[0][label[0][:, 0] >= 0]
    np.testing.assert_allclose(rows[:, 1:], pixels[:, :4] / 96.0, atol=1e-6)  # images are 96 px
    np.testing.assert_array_equal(rows[:, 0], pixels[:, 4])
    # the first image of the batch (not the batch: its four images' means differ) is the
    # dataset's first image, minus the mean pixel
    assert math.isclose(float(batch.data[0][0].asnumpy().mean()),
                        float((image.astype(np.float32) - [123.675, 116.28, 103.53]).mean()),
                        rel_tol=0.01, abs_tol=0.5)
