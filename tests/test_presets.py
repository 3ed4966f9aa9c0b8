"""Every preset builds and its anchors equal GluonCV's (except the documented fixes)."""
import mxnet as mx
import numpy as np
import pytest
from conftest import train_mode_anchors

import ssd_zoo
from ssd_zoo.model.presets import PRESETS
from ssd_zoo.model.zoo import lookup

# anchor totals at the base size, as published (REFERENCE.md section 2)
EXPECTED_ANCHORS = {
    'vgg16_atrous_300': 8732, 'vgg16_atrous_512': 24564, 'resnet18_v1_512': 6132,
    'resnet50_v1_512': 6132, 'resnet101_v1_512': 6132, 'resnet101_v2_512': 6132,
    'resnet152_v2_512': 24564, 'mobilenet1.0_512': 6132, 'mobilenet1.0_lite_300': 1917,
    'mobilenet0.25_300': 2268, 'resnet34_v1b_300': 8732, 'plainnet_300': 8744,
}
NOT_IN_GLUONCV_ZOO = {'ssd_512_resnet18_v1_custom', 'ssd_512_resnet101_v1_voc',
                      'ssd_512_resnet101_v1_coco', 'ssd_512_resnet101_v1_custom',
                      'ssd_300_plainnet_custom'}


def build(name, **kwargs):
    preset, dataset = lookup(name)
    if dataset == 'custom':
        kwargs.setdefault('classes', ['a', 'b', 'c'])
    net = ssd_zoo.get_model(name, pretrained_base=False, **kwargs)
    net.initialize()
    return net, preset


def train_outputs(net, height, width):
    x = mx.nd.random.uniform(shape=(1, 3, height, width))
    with mx.autograd.train_mode():
        return net(x)


def test_every_gluoncv_preset_is_registered():
    names = set(ssd_zoo.list_models())
    gluoncv_names = {
        'ssd_300_vgg16_atrous_voc', 'ssd_300_vgg16_atrous_coco', 'ssd_300_vgg16_atrous_custom',
        'ssd_512_vgg16_atrous_voc', 'ssd_512_vgg16_atrous_coco', 'ssd_512_vgg16_atrous_custom',
        'ssd_512_resnet18_v1_voc', 'ssd_512_resnet18_v1_coco', 'ssd_512_resnet50_v1_voc',
        'ssd_512_resnet50_v1_coco', 'ssd_512_resnet50_v1_custom', 'ssd_512_resnet101_v2_voc',
        'ssd_512_resnet152_v2_voc', 'ssd_512_mobilenet1.0_voc', 'ssd_512_mobilenet1.0_coco',
        'ssd_512_mobilenet1.0_custom', 'ssd_300_mobilenet1.0_lite_coco',
        'ssd_300_mobilenet0.25_voc', 'ssd_300_mobilenet0.25_coco',
        'ssd_300_mobilenet0.25_custom', 'ssd_300_resnet34_v1b_voc', 'ssd_300_resnet34_v1b_coco',
        'ssd_300_resnet34_v1b_custom'}
    assert gluoncv_names <= names
    assert NOT_IN_GLUONCV_ZOO <= names
    assert len(names) == len(gluoncv_names) + len(NOT_IN_GLUONCV_ZOO)


@pytest.mark.parametrize('name', ssd_zoo.list_models())
def test_anchors_equal_gluoncv_at_base_size_and_non_square(name):
    import gluoncv
    net, preset = build(name)
    size = preset.base_size
    cls_preds, box_preds, anchors = train_outputs(net, size, size)
    key = '%s_%d' % (preset.backbone, size)
    assert anchors.shape == (1, EXPECTED_ANCHORS[key], 4)
    assert cls_preds.shape == (1, EXPECTED_ANCHORS[key], net.num_classes + 1)
    assert box_preds.shape == (1, EXPECTED_ANCHORS[key], 4)
    if name in NOT_IN_GLUONCV_ZOO:
        pytest.skip('no GluonCV zoo entry; anchors checked by test_fixed_presets_*')
    kwargs = {'classes': net.classes} if name.endswith('_custom') else {}
    reference = gluoncv.model_zoo.get_model(name, pretrained_base=False, **kwargs)
    reference.initialize()
    expected = train_mode_anchors(reference, mx.nd.zeros((1, 3, size, size)))  # same format
    if preset.differs_from_gluoncv and 'steps' in preset.differs_from_gluoncv:
        assert not np.allclose(expected, anchors.asnumpy()[0], atol=1e-4)
    else:
        np.testing.assert_allclose(anchors.asnumpy()[0], expected, atol=1e-4)
        # and on a non-square input, 4:3 (GluonCV's generators slice their grid to the maps)
        x = mx.nd.zeros((1, 3, size, size * 4 // 3))
        np.testing.assert_allclose(train_mode_anchors(net, x), train_mode_anchors(reference, x),
                                   atol=1e-4)


def test_mobilenet025_steps_fix_matches_gluoncv_generator_with_real_strides():
    """The fix changes only the steps: GluonCV's own anchor generator, fed the real strides,
    reproduces ssd_zoo's anchors, and they now cover the whole image."""
    from gluoncv.model_zoo.ssd.anchor import SSDAnchorGenerator
    net, preset = build('ssd_300_mobilenet0.25_voc')
    anchors = train_outputs(net, 300, 300)[2].asnumpy()[0]
    feature_sizes = [19, 10, 5, 3, 2, 1]
    pieces = []
    sizes = list(zip(preset.sizes[:-1], preset.sizes[1:]))
    for i, (fs, s, r, st) in enumerate(zip(feature_sizes, sizes, preset.ratios, preset.steps)):
        gen = SSDAnchorGenerator(i, (300, 300), s, r, st, (fs, fs))
        gen.initialize()
        pieces.append(gen(mx.nd.zeros((1, 1, fs, fs))).asnumpy()[0])
    ref = np.concatenate(pieces)  # GluonCV's format, as ssd_zoo's train mode: pixel cx, cy, w, h
    np.testing.assert_allclose(anchors, ref, atol=1e-4)
    centres = anchors[:, :2] / 300
    first_head = centres[:19 * 19 * 4]
    assert first_head.max() > 0.95 and first_head.min() < 0.05


def test_resnet101_v1_features_are_last_units_of_stages_3_and_4():
    net, _ = build('ssd_512_resnet101_v1_voc')
    feats = net.features(mx.nd.zeros((1, 3, 512, 512)))
    assert [f.shape[1:] for f in feats[:2]] == [(1024, 32, 32), (2048, 16, 16)]
    assert net.features.feature_names[:2] == ['stage3_activation22', 'stage4_activation2']


def test_resnet_v2_presets_keep_gluoncv_mid_stage_layers():
    """GluonCV's v2 rows name pre-activations inside stages 3 and 4 (256 and 512 channels, not
    the 1024/2048 stage outputs); its pretrained weights were trained that way, so the rows are
    kept for weight compatibility."""
    net, _ = build('ssd_512_resnet101_v2_voc')
    feats = net.features(mx.nd.zeros((1, 3, 512, 512)))
    assert [f.shape[1:] for f in feats[:2]] == [(256, 32, 32), (512, 16, 16)]


def test_resnet101_ssd_is_larger_than_resnet50():
    def count(name):
        net, _ = build(name)
        train_outputs(net, 512, 512)
        return sum(p.data().size for p in net.collect_params().values())
    assert count('ssd_512_resnet101_v1_voc') > count('ssd_512_resnet50_v1_voc')


def test_deliberate_differences_are_documented():
    differing = {p.backbone for p in PRESETS if p.differs_from_gluoncv}
    assert differing == {'mobilenet0.25', 'resnet18_v1', 'resnet101_v1', 'plainnet'}
