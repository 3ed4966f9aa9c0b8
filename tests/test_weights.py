"""GluonCV weight files load into ssd_zoo and give GluonCV's detections; errors name files."""
import os

import mxnet as mx
import numpy as np
import pytest
from conftest import box_iou, gluoncv_model, seed_everything

import ssd_zoo
from ssd_zoo.model.weights import WeightsMismatchError, find_weights_file


def compare_top100(reference, ours, x):
    """Same classes, |dscore| < 1e-4, IoU > 0.999 over the valid top-100 detections."""
    ref_ids, ref_scores, ref_boxes = [a.asnumpy()[0] for a in reference(x)]
    ids, scores, boxes = [a.asnumpy()[0] for a in ours(x)]
    assert ids.shape == ref_ids.shape == (100, 1)
    valid = ref_ids[:, 0] >= 0
    assert valid.sum() > 50, 'the reference must produce enough detections to be a test'
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    assert box_iou(boxes[valid], ref_boxes[valid]).min() > 0.999


@pytest.mark.parametrize('name,shape', [
    ('ssd_300_vgg16_atrous_voc', (1, 3, 300, 300)),
    ('ssd_512_resnet50_v1_voc', (1, 3, 512, 512)),
    ('ssd_512_mobilenet1.0_voc', (1, 3, 512, 512)),
    ('ssd_512_mobilenet1.0_coco', (1, 3, 384, 512)),  # non-square input, 80 classes
])
def test_gluoncv_file_loads_and_per_class_detections_match(name, shape, tmp_path):
    seed_everything(1)
    x = mx.nd.random.uniform(-2, 2, shape=shape)
    reference = gluoncv_model(name, x)
    path = str(tmp_path / (name + '.params'))
    reference.save_parameters(path)
    ours = ssd_zoo.get_model(name, pretrained=path)
    ours.set_nms(mode='per_class')
    compare_top100(reference, ours, x)
    ours.hybridize()
    compare_top100(reference, ours, x)


def test_file_with_other_backbone_prefix_loads(tmp_path):
    """A backbone built in a used name scope saves 'resnetv13_...' instead of 'resnetv10_...';
    the rest of the name identifies the layer."""
    x = mx.nd.random.uniform(-2, 2, shape=(1, 3, 512, 512))
    reference = gluoncv_model('ssd_512_resnet18_v1_voc', x)
    path = str(tmp_path / 'r18.params')
    reference.save_parameters(path)
    renamed = {k.replace('features.resnetv10_', 'features.resnetv13_'): v
               for k, v in mx.nd.load(path).items()}
    assert any(k.startswith('features.resnetv13_') for k in renamed)
    mx.nd.save(path, renamed)
    ours = ssd_zoo.get_model('ssd_512_resnet18_v1_voc', pretrained=path)
    ours.set_nms(mode='per_class')
    compare_top100(reference, ours, x)


def test_ssd_zoo_file_round_trips_through_zoo_root(tmp_path):
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 300, 300))
    net = ssd_zoo.get_model('ssd_300_mobilenet0.25_custom', classes=['a', 'b'],
                            pretrained_base=False)
    net.initialize()
    expected = [a.asnumpy() for a in net(x)]
    root = tmp_path / 'models'
    root.mkdir()
    net.save_parameters(str(root / 'ssd_300_mobilenet0.25_custom.params'))
    loaded = ssd_zoo.get_model('ssd_300_mobilenet0.25_custom', classes=['a', 'b'],
                               pretrained=True, root=str(root))
    for got, want in zip(loaded(x), expected):
        np.testing.assert_array_equal(got.asnumpy(), want)


def test_pretrained_true_finds_gluoncv_hashed_file_name(tmp_path, monkeypatch):
    """GluonCV's file name with the published SHA-1 is used as it is, without network (the
    table entry is set to this file's SHA-1: its weights are random, not the published)."""
    from helpers.params import publish

    from ssd_zoo.model.model_store import sha1_of
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 512, 512))
    reference = gluoncv_model('ssd_512_mobilenet1.0_voc', x)
    root = tmp_path / 'models'
    root.mkdir()
    saved = str(tmp_path / 'w.params')
    reference.save_parameters(saved)
    sha1 = sha1_of(saved)
    publish(monkeypatch, 'ssd_512_mobilenet1.0_voc', sha1)
    file_name = 'ssd_512_mobilenet1.0_voc-%s.params' % sha1[:8]
    os.replace(saved, str(root / file_name))
    assert find_weights_file('ssd_512_mobilenet1.0_voc', str(root)) == str(root / file_name)
    ours = ssd_zoo.get_model('ssd_512_mobilenet1.0_voc', pretrained=True, root=str(root))
    ours.set_nms(mode='per_class')
    compare_top100(reference, ours, x)


def test_missing_pretrained_file_names_the_expected_path(tmp_path):
    from gluoncv.model_zoo.model_store import short_hash
    expected = 'ssd_512_resnet50_v1_voc-%s.params' % short_hash('ssd_512_resnet50_v1_voc')
    with pytest.raises(FileNotFoundError) as err:
        ssd_zoo.get_model('ssd_512_resnet50_v1_voc', pretrained=True, root=str(tmp_path))
    assert expected in str(err.value) and str(tmp_path) in str(err.value)


def test_missing_backbone_file_names_the_expected_path_under_mxnet_home():
    from gluoncv.model_zoo.model_store import short_hash
    with pytest.raises(FileNotFoundError) as err:
        ssd_zoo.get_model('ssd_512_mobilenet1.0_voc', pretrained_base=True)
    message = str(err.value)
    assert 'mobilenet1.0-%s.params' % short_hash('mobilenet1.0') in message
    assert os.path.join(os.environ['MXNET_HOME'], 'models') in message


def save_random_backbone(block, side, root, file_name):
    """Initialize ``block`` at random, run it once and save it as ``root/file_name``."""
    block.initialize()
    block(mx.nd.zeros((1, 3, side, side)))
    root.mkdir(exist_ok=True)
    block.save_parameters(str(root / file_name))
    return block


def test_pretrained_base_loads_gluoncv_imagenet_file(tmp_path):
    import gluoncv
    seed_everything(3)
    root = tmp_path / 'models'
    backbone = save_random_backbone(gluoncv.model_zoo.get_model('mobilenet0.25'), 224, root,
                                    'mobilenet0.25.params')
    net = ssd_zoo.get_model('ssd_300_mobilenet0.25_voc', pretrained_base=True, root=str(root))
    first_conv = [p for k, p in net.collect_params().items() if k.endswith('conv0_weight')][0]
    np.testing.assert_array_equal(first_conv.data().asnumpy(),
                                  backbone.features[0].weight.data().asnumpy())


def test_vgg_pretrained_base_loads_gluoncv_imagenet_file(tmp_path):
    """GluonCV's vgg16_atrous ImageNet file holds the VGG stages and norm4, not the extras."""
    from gluoncv.model_zoo.ssd.vgg_atrous import VGGAtrousExtractor
    seed_everything(4)
    root = tmp_path / 'models'
    reference = save_random_backbone(
        VGGAtrousExtractor([2, 2, 3, 3, 3], [64, 128, 256, 512, 512], []), 64, root,
        'vgg16_atrous.params')
    net = ssd_zoo.get_model('ssd_300_vgg16_atrous_voc', pretrained_base=True, root=str(root))
    for stage in (0, 5):
        np.testing.assert_array_equal(net.features.stages[stage][0].weight.data().asnumpy(),
                                      reference.stages[stage][0].weight.data().asnumpy())


def test_file_with_other_class_count_suggests_classes_or_reset_class(tmp_path):
    net = ssd_zoo.get_model('ssd_300_mobilenet0.25_custom', classes=['a', 'b', 'c'],
                            pretrained_base=False)
    net.initialize()
    net(mx.nd.zeros((1, 3, 300, 300)))
    path = str(tmp_path / 'three.params')
    net.save_parameters(path)
    with pytest.raises(WeightsMismatchError) as err:
        ssd_zoo.get_model('ssd_300_mobilenet0.25_voc', pretrained=path)
    message = str(err.value)
    assert 'trained for 3 classes' in message and '20' in message
    assert 'classes=' in message and 'reset_class' in message
    loaded = ssd_zoo.get_model('ssd_300_mobilenet0.25_voc', pretrained=path,
                               classes=['x', 'y', 'z'])
    assert loaded.classes == ['x', 'y', 'z']


def test_file_of_another_architecture_lists_missing_parameters(tmp_path):
    net = ssd_zoo.get_model('ssd_300_mobilenet0.25_custom', classes=['a'], pretrained_base=False)
    net.initialize()
    net(mx.nd.zeros((1, 3, 300, 300)))
    path = str(tmp_path / 'm.params')
    net.save_parameters(path)
    with pytest.raises(WeightsMismatchError, match='missing'):
        ssd_zoo.get_model('ssd_512_resnet18_v1_custom', classes=['a'], pretrained=path)
