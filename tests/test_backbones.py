"""Composing SSDs on classification backbones: automatic feature layers, checked names, and
build / train one step / predict / export / reload on every common backbone."""
import mxnet as mx
import numpy as np
import pytest
from helpers.params import one_per_architecture

import ssd_zoo
from ssd_zoo.cli import anchor_report
from ssd_zoo.cli import main as cli_main
from ssd_zoo.deploy.export import export_model, import_block
from ssd_zoo.model.anchors import corner_anchors
from ssd_zoo.model.zoo import lookup
from ssd_zoo.train.loss import SSDMultiBoxLoss, to_multibox_labels

RESNETS = ['resnet%d_%s' % (depth, version) for version in ('v1', 'v2')
           for depth in (18, 34, 50, 101, 152)]
BACKBONES = RESNETS + ['resnet50_v1b', 'mobilenet1.0', 'mobilenet0.25', 'mobilenetv2_1.0',
                       'mobilenetv3_large', 'vgg16', 'vgg16_bn', 'densenet121', 'inceptionv3',
                       'squeezenet1.1']


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_auto_features_are_stage_3_and_4_outputs_and_size_grows_with_depth(version):
    counts = []
    for depth in (18, 34, 50, 101, 152):
        name = 'resnet%d_%s' % (depth, version)
        net = ssd_zoo.get_ssd(name, 256, classes=['a'])
        net.initialize()
        x = mx.nd.zeros((1, 3, 256, 256))
        net(x)
        feats = net.features(x)
        stage3, stage4 = (256, 512) if depth < 50 else (1024, 2048)
        assert feats[0].shape[1:] == (stage3, 16, 16), name
        assert feats[1].shape[1:] == (stage4, 8, 8), name
        counts.append(sum(p.data().size for p in net.collect_params().values()))
    assert counts == sorted(counts) and len(set(counts)) == len(counts)


def test_resnet50_layer_names_in_resnet101_fail_listing_the_right_ones():
    """MXNet's example copied resnet50's layers into resnet101 and silently built a smaller
    network (seed 003); here the copied names fail and say what to use."""
    with pytest.raises(ValueError) as err:
        ssd_zoo.get_ssd('resnet101_v1', 512, ['stage3_activation5', 'stage4_activation2'],
                        classes=['a'])
    assert 'stage3_activation22' in str(err.value)
    net = ssd_zoo.get_ssd('resnet101_v1', 512, ['stage3_activation22', 'stage4_activation2'],
                          classes=['a'])
    assert net.features.feature_names[:2] == ['stage3_activation22', 'stage4_activation2']


def test_feature_order_and_duplicates_are_checked():
    with pytest.raises(ValueError, match='coarser'):
        ssd_zoo.get_ssd('resnet18_v1', 256, ['stage4_activation1', 'stage3_activation1'],
                        classes=['a'])
    with pytest.raises(ValueError, match='coarser'):
        ssd_zoo.get_ssd('resnet18_v1', 256, ['stage3_activation1', 'stage3_activation1'],
                        classes=['a'])
    with pytest.raises(ValueError, match='nearest'):
        ssd_zoo.get_ssd('resnet18_v1', 256, ['stage3_activation9'], classes=['a'])


def test_inspect_backbone_marks_the_last_output_of_each_stride(capsys):
    table = ssd_zoo.inspect_backbone('mobilenet1.0', 512)
    marked = {(r.stride, r.name) for r in table.last_of_each_stride()}
    assert {(16, 'relu22_fwd'), (32, 'relu26_fwd')} <= marked  # GluonCV's preset layers
    assert 'relu22_fwd' in str(table)
    assert cli_main(['inspect', 'resnet101_v1', '--size', '512']) == 0
    assert 'stage3_activation22' in capsys.readouterr().out


@pytest.mark.parametrize('backbone', BACKBONES)
def test_backbone_builds_trains_predicts_exports(backbone, tmp_path):
    size = 128
    net = ssd_zoo.get_ssd(backbone, size, classes=['a', 'b'])
    net.initialize()
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, size, size))
    labels = to_multibox_labels(mx.nd.array([[[10, 20, 70, 90, 0, 0]], [[40, 40, 120, 100, 1,
                                                                         0]]]), size, size)
    trainer = mx.gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01})
    loss_fn = SSDMultiBoxLoss()
    with mx.autograd.record():
        cls_preds, box_preds, anchors = net(x)  # anchors as GluonCV's train mode gives them
        cls_loss, box_loss, num_pos = loss_fn(cls_preds, box_preds,
                                              corner_anchors(anchors, size, size), labels)
        loss = (cls_loss.sum() + box_loss.sum()) / num_pos.sum()
    loss.backward()
    before = [p.predictor.weight.data().copy() for p in net.class_predictors]
    trainer.step(1)
    assert np.isfinite(loss.asscalar())
    assert sum((p.predictor.weight.data() != b).sum().asscalar()
               for p, b in zip(net.class_predictors, before)) > 0
    net.hybridize()
    ids, scores, boxes = net(x)
    assert ids.shape == (2, 100, 1)
    prefix = str(tmp_path / 'ssd')
    export_model(net, prefix, x.shape)
    for got, want in zip(import_block(prefix)(x), (ids, scores, boxes)):
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())


# the counts depend on the feature maps and ratios only, not on the dataset's classes or sizes
@pytest.mark.parametrize('name', one_per_architecture(ssd_zoo.list_models()))
def test_printed_anchor_counts_equal_the_model_anchors(name):
    _, dataset = lookup(name)
    net = ssd_zoo.get_model(name, pretrained_base=False,
                            classes=['a'] if dataset == 'custom' else None)
    net.initialize()
    for height, width in ((net.base_size, net.base_size),
                          (net.base_size, net.base_size * 4 // 3)):
        _, total = anchor_report(net, height, width)
        with mx.autograd.train_mode():
            anchors = net(mx.nd.zeros((1, 3, height, width)))[2]
        assert total == anchors.shape[1]


def test_anchor_cli_prints_the_gist_count_and_draws(tmp_path, capsys):
    out = tmp_path / 'anchors.png'
    assert cli_main(['anchors', 'ssd_300_vgg16_atrous_voc', '--size', '480', '--out',
                     str(out)]) == 0
    assert '21742' in capsys.readouterr().out and out.stat().st_size > 0
