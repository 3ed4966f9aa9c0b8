"""SSD block behaviour: modes, decoding, reset_class, anchors off the base size, bad input."""
import json

import mxnet as mx
import numpy as np
import pytest
from conftest import gluoncv_model, seed_everything, train_mode_anchors

import ssd_zoo
from ssd_zoo.model.anchors import AnchorLayout, anchor_layouts, count_anchors, paper_sizes


@pytest.fixture(scope='module')
def small_net():
    seed_everything(0)
    net = ssd_zoo.get_model('ssd_300_mobilenet0.25_custom', classes=['a', 'b', 'c'],
                            pretrained_base=False)
    net.initialize()
    return net


def test_train_mode_outputs_and_hybridized_mode_switches(small_net):
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 300, 300))
    small_net.hybridize()
    for _ in range(2):  # train -> predict -> train -> predict on one cached network
        with mx.autograd.train_mode():
            cls_preds, box_preds, anchors = small_net(x)
        assert cls_preds.shape == (2, 2268, 4) and box_preds.shape == (2, 2268, 4)
        assert anchors.shape == (1, 2268, 4)
        ids, scores, boxes = small_net(x)
        assert ids.shape == (2, 100, 1) and boxes.shape == (2, 100, 4)


def test_multibox_mode_keeps_every_valid_operator_detection_in_score_order(small_net):
    """The decoder equals MultiBoxDetection applied by hand, valid rows first."""
    small_net.set_nms(nms_thresh=0.45, nms_topk=400, post_nms=2268, mode='multibox')
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 300, 300))
    with mx.autograd.train_mode():  # batch statistics: an untrained net's are not degenerate
        cls_preds, box_preds, anchors = small_net.heads(mx.nd, x)  # corners, as decoded
    raw = mx.nd.contrib.MultiBoxDetection(
        mx.nd.softmax(cls_preds, axis=-1).transpose((0, 2, 1)), box_preds.reshape((0, -1)),
        anchors, nms_threshold=0.45, nms_topk=400, clip=True).asnumpy()[0]
    expected = raw[raw[:, 0] >= 0]
    ids, scores, boxes = [a.asnumpy()[0] for a in small_net.decoder(cls_preds, box_preds,
                                                                     anchors, x)]
    valid = ids[:, 0] >= 0
    assert valid.sum() == len(expected) > 100
    assert np.all(np.diff(scores[valid, 0]) <= 0)
    np.testing.assert_allclose(scores[valid, 0], expected[:, 1], rtol=1e-6)
    np.testing.assert_allclose(boxes[valid], expected[:, 2:] * 300, rtol=1e-5, atol=1e-3)
    assert np.all(boxes[~valid] == -1)
    small_net.set_nms(mode='multibox')  # the fixture's own decoding again


def test_set_nms_controls_detection_count_and_mode(small_net):
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 300, 300))
    small_net.set_nms(post_nms=7, mode='multibox')
    assert small_net(x)[0].shape == (1, 7, 1)
    small_net.set_nms(post_nms=7, mode='per_class')
    assert small_net(x)[0].shape == (1, 7, 1)
    with pytest.raises(ValueError, match='multibox'):
        small_net.set_nms(mode='fast')
    small_net.set_nms(mode='multibox')  # the fixture's own decoding again


def test_reset_class_reuses_weights_like_gluoncv(tmp_path):
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 512, 512))
    reference = gluoncv_model('ssd_512_mobilenet1.0_voc', x)
    path = str(tmp_path / 'voc.params')
    reference.save_parameters(path)
    ours = ssd_zoo.get_model('ssd_512_mobilenet1.0_voc', pretrained=path)
    new_classes = ['person', 'dog', 'unicorn']
    reuse = {'person': 'person', 'dog': 11}
    reference.reset_class(new_classes, reuse_weights=reuse)
    ours.reset_class(new_classes, reuse_weights=reuse)
    assert ours.classes == new_classes
    for ref_pred, pred in zip(reference.class_predictors, ours.class_predictors):
        ref_w = ref_pred.predictor.weight.data().asnumpy()
        w = pred.predictor.weight.data().asnumpy()
        assert w.shape == ref_w.shape
        stride = len(new_classes) + 1
        for row in (0, 1, 2):  # background, person, dog are reused; unicorn is new
            np.testing.assert_array_equal(w[row::stride], ref_w[row::stride])
        np.testing.assert_array_equal(pred.predictor.bias.data().asnumpy()[1::stride],
                                      ref_pred.predictor.bias.data().asnumpy()[1::stride])
    ours.set_nms(mode='per_class')
    ids = ours(x)[0].asnumpy()
    assert ids.max() <= 2


def test_reset_class_rejects_unknown_names(small_net):
    with pytest.raises(ValueError, match='zebra'):
        small_net.reset_class(['a'], reuse_weights={'a': 'zebra'})


@pytest.mark.parametrize('name,shape', [('ssd_512_resnet50_v1_voc', (384, 512)),
                                        ('ssd_300_vgg16_atrous_voc', (300, 500)),
                                        ('ssd_300_mobilenet1.0_lite_coco', (400, 300))])
def test_anchors_equal_gluoncv_on_non_square_inputs(name, shape):
    import gluoncv
    net = ssd_zoo.get_model(name, pretrained_base=False)
    net.initialize()
    x = mx.nd.zeros((1, 3) + shape)
    reference = gluoncv.model_zoo.get_model(name, pretrained_base=False)
    reference.initialize()
    # the same format (pixel cx, cy, w, h) and the same values as GluonCV's train mode
    np.testing.assert_allclose(train_mode_anchors(net, x), train_mode_anchors(reference, x),
                               atol=1e-4)


def test_anchor_order_and_shapes_follow_the_operator_definition():
    layout = AnchorLayout(30.0, 60.0, (1.0, 2.0, 0.5), 8.0)
    net = ssd_zoo.model.anchors.AnchorGenerator(layout)
    feature = mx.nd.zeros((1, 8, 2, 3))
    image = mx.nd.zeros((1, 3, 16, 24))
    anchors = net(feature, image).asnumpy().reshape(2, 3, 4, 4)
    geo = np.sqrt(30 * 60)
    # hand-computed: centres (j + .5) * 8 px; shapes s, sqrt(s s'), then s with ratios 2, 1/2
    wh = [(30, 30), (geo, geo), (30 * np.sqrt(2), 30 / np.sqrt(2)),
          (30 / np.sqrt(2), 30 * np.sqrt(2))]
    for i in range(2):
        for j in range(3):
            cx, cy = (j + 0.5) * 8, (i + 0.5) * 8
            for a, (w, h) in enumerate(wh):
                want = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) / [24, 16, 24, 16]
                np.testing.assert_allclose(anchors[i, j, a], want, rtol=1e-5)


def test_anchor_generators_read_a_gradient_free_slice_of_each_feature_map():
    """Backward must not run through the anchors (they depend on the maps' sizes only): every
    ``MultiBoxPrior`` reads a 1 x 1 x H x W slice behind ``BlockGrad``, so no zero gradient of
    a whole feature map is computed and added to the real one."""
    net = ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], pretrained_base=False)
    net.initialize()
    data = mx.sym.var('data')
    with mx.autograd.train_mode():
        train_anchors = net(data)[2]  # GluonCV's format: centres by MultiBoxPrior
        corner_anchors = net.heads(mx.sym, data)[2]  # centres and shapes by MultiBoxPrior
    for anchors, calls in ((train_anchors, 1), (corner_anchors, 2)):
        nodes = json.loads(anchors.tojson())['nodes']
        internals = anchors.get_internals()
        _, shapes, _ = internals.infer_shape(data=(2, 3, 300, 300))
        shape_of = dict(zip(internals.list_outputs(), shapes))
        priors = [n for n in nodes if n['op'] == '_contrib_MultiBoxPrior']
        assert len(priors) == calls * len(net.anchor_generators)
        for prior in priors:
            source = nodes[prior['inputs'][0][0]]
            while source['op'] == 'slice_axis':   # the 1 x 1 cell of the shapes' call
                source = nodes[source['inputs'][0][0]]
            assert source['op'] == 'BlockGrad', prior['name']
            assert shape_of[source['name'] + '_output'][:2] == (1, 1), source['name']


def test_paper_sizes_and_anchor_counts():
    assert [round(s) for s in paper_sizes(6, 300)] == [30, 60, 111, 162, 213, 264, 315]
    layouts = anchor_layouts(paper_sizes(6, 300), [(1, 2, .5)] + [(1, 2, .5, 3, 1 / 3)] * 3
                             + [(1, 2, .5)] * 2, [8, 16, 32, 64, 100, 300])
    assert sum(count_anchors([(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
                             layouts)) == 8732


def test_mismatched_anchor_lists_name_the_layer():
    with pytest.raises(ValueError, match=r'stage4_activation1.*5 steps|5 steps.*stage4'):
        ssd_zoo.get_ssd('resnet18_v1', 512, ['stage3_activation1', 'stage4_activation1'],
                        [512, 512, 256, 256], [51.2, 102.4, 189.4, 276.4, 363.52, 450.6, 492],
                        [[1, 2, .5]] * 6, [16, 32, 64, 128, 256], classes=['a'])
    with pytest.raises(ValueError, match=r'6 sizes \(need 7'):
        ssd_zoo.get_ssd('resnet18_v1', 512, ['stage3_activation1', 'stage4_activation1'],
                        [512, 512, 256, 256], [51.2, 102.4, 189.4, 276.4, 363.52, 450.6],
                        [[1, 2, .5]] * 6, [16, 32, 64, 128, 256, 512], classes=['a'])


def test_unknown_feature_name_lists_nearest_candidates():
    with pytest.raises(ValueError, match='stage3_activation5') as err:
        ssd_zoo.get_ssd('resnet50_v1', 512, ['stage3_activation55', 'stage4_activation2'],
                        [512, 512, 256, 256], [51.2, 102.4, 189.4, 276.4, 363.52, 450.6, 492],
                        [[1, 2, .5]] * 6, [16, 32, 64, 128, 256, 512], classes=['a'])
    assert 'inspect_backbone' in str(err.value)


def test_input_too_small_names_the_minimum():
    net = ssd_zoo.get_model('ssd_300_vgg16_atrous_custom', classes=['a'], pretrained_base=False)
    net.initialize()
    net.hybridize()
    with pytest.raises(ValueError, match='each side must be at least 257 pixels'):
        net(mx.nd.zeros((1, 3, 300, 200)))
    ids = net(mx.nd.zeros((1, 3, 257, 257)))[0]  # the minimum itself works
    assert ids.shape == (1, 100, 1)
    with pytest.raises(ValueError, match='RGB'):
        net(mx.nd.zeros((1, 1, 300, 300)))


def test_tiny_inputs_still_return_post_nms_rows(small_net):
    """With fewer anchors than post_nms, the result is padded with invalid rows."""
    small_net.hybridize()
    for mode in ('multibox', 'per_class'):
        small_net.set_nms(mode=mode)
        ids, scores, boxes = small_net(mx.nd.random.uniform(shape=(1, 3, 32, 32)))
        assert ids.shape == (1, 100, 1) and boxes.shape == (1, 100, 4)
        assert (ids.asnumpy() == -1).sum() > 0
    small_net.set_nms(mode='multibox')  # the fixture's own decoding again


def test_unknown_model_names_closest_and_custom_needs_classes():
    with pytest.raises(ValueError, match='ssd_512_resnet50_v1_voc'):
        ssd_zoo.get_model('ssd_512_resnet50_voc')
    with pytest.raises(ValueError, match='classes='):
        ssd_zoo.get_model('ssd_512_resnet50_v1_custom', pretrained_base=False)
    assert ssd_zoo.list_models('mobilenet0.25') == ['ssd_300_mobilenet0.25_voc',
                                                    'ssd_300_mobilenet0.25_coco',
                                                    'ssd_300_mobilenet0.25_custom']
    assert ssd_zoo.get_model('ssd_512_mobilenet1_0_voc', pretrained_base=False).base_size == 512
