"""GluonCV's own pieces on ssd_zoo's models, as GluonCV's scripts use them
(gluon-cv ``scripts/detection/ssd/train_ssd.py`` / ``eval_ssd.py`` / ``demo_ssd.py``):
``get_model`` keywords, the train-mode contract its ``SSDDefaultTrainTransform`` builds targets
from (``gluoncv/data/transforms/presets/ssd.py``), its ``SSDMultiBoxLoss``
(``gluoncv/loss.py``), ``set_nms``, ``save_params``/``load_parameters``, ``VOC07MApMetric``,
``plot_bbox`` and ``export_block``."""
import os
import random

import mxnet as mx
import numpy as np
import pytest
from conftest import gluoncv_model, seed_everything
from mxnet import gluon

import ssd_zoo

NAME = 'ssd_512_resnet18_v1_voc'  # a GluonCV preset with a small backbone (6132 anchors)


def twins(name=NAME):
    """GluonCV's model and ssd_zoo's with the same weights."""
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 512, 512))
    reference = gluoncv_model(name, x)
    ours = ssd_zoo.get_model(name, pretrained_base=False)
    ours.initialize()
    ours(x)
    return reference, ours


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    seed_everything(0)
    reference, ours = twins()
    path = str(tmp_path_factory.mktemp('w') / 'gluoncv.params')
    reference.save_parameters(path)
    ours.load_parameters(path)  # a GluonCV file, its stored anchors ignored
    return reference, ours


def shapes_samples(count=4, side=512):
    """``(image HWC uint8, label (M, 5) [x1, y1, x2, y2, cls])`` shapes images."""
    from ssd_zoo.data.shapes import SHAPE_CLASSES, ShapesSpec, render_image
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(count):
        image, objects = render_image(rng, ShapesSpec(image_size=side))
        label = np.array([box + [SHAPE_CLASSES.index(cls)] for cls, box in objects],
                         np.float32)
        samples.append((image, label))
    return samples


def test_get_model_takes_gluoncvs_keywords_and_names_the_accepted_ones():
    x = mx.nd.zeros((1, 3, 300, 300))
    for norm_layer, norm_kwargs in ((gluon.nn.BatchNorm, None),
                                    (gluon.contrib.nn.SyncBatchNorm, {'num_devices': 2})):
        net = ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], pretrained_base=False,
                                norm_layer=norm_layer, norm_kwargs=norm_kwargs)
        net.initialize()
        assert net(x)[0].shape == (1, 100, 1)
    symbol = net(mx.sym.var('data'))[0]
    assert any(n.endswith('syncbatchnorm0_fwd_output')
               for n in symbol.get_internals().list_outputs())
    with pytest.raises(TypeError, match='syncbn.*it takes pretrained, pretrained_base'):
        ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], syncbn=True)
    with pytest.raises(ValueError, match='norm_layer'):
        ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], norm_kwargs={'x': 1})


def test_transfer_starts_from_the_published_model_keeping_shared_classes(tmp_path):
    """GluonCV's ``get_model(..._custom, classes=[...], transfer='voc')``."""
    from helpers.params import publish

    from ssd_zoo.model.model_store import sha1_of
    seed_everything(1)
    voc = ssd_zoo.get_model('ssd_512_mobilenet1.0_voc', pretrained_base=False)
    voc.initialize()
    voc(mx.nd.zeros((1, 3, 512, 512)))
    saved = str(tmp_path / 'w.params')
    voc.save_parameters(saved)
    sha1 = sha1_of(saved)
    os.replace(saved, str(tmp_path / ('ssd_512_mobilenet1.0_voc-%s.params' % sha1[:8])))
    with pytest.MonkeyPatch.context() as patch:
        publish(patch, 'ssd_512_mobilenet1.0_voc', sha1)
        net = ssd_zoo.get_model('ssd_512_mobilenet1.0_custom', classes=['dog', 'unicorn'],
                                transfer='voc', root=str(tmp_path))
    assert net.classes == ['dog', 'unicorn']
    head, old = net.class_predictors[0].predictor.weight.data(), \
        voc.class_predictors[0].predictor.weight.data()
    dog = voc.classes.index('dog') + 1
    np.testing.assert_array_equal(head[1::3].asnumpy(), old[dog::21].asnumpy())
    with pytest.raises(ValueError, match='no published weights'):
        ssd_zoo.get_model('ssd_300_plainnet_custom', classes=['a'], transfer='voc')


def test_gluoncv_targets_on_an_ssd_zoo_model_equal_those_on_gluoncvs(models):
    """SSDDefaultTrainTransform with the model's train-mode anchors: the same targets for the
    same images and random draws, whichever model the anchors came from."""
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
    reference, ours = models
    x = mx.nd.zeros((1, 3, 512, 512))
    results = []
    for net in (reference, ours):
        with mx.autograd.train_mode():
            anchors = net(x)[2]
        transform = SSDDefaultTrainTransform(512, 512, anchors)
        seed_everything(2)
        random.seed(2)  # GluonCV's augmentation also draws from Python's random
        results.append([transform(mx.nd.array(image), label[:, :5])
                        for image, label in shapes_samples()])
    positives = 0
    for (img_a, cls_a, box_a), (img_b, cls_b, box_b) in zip(*results):
        np.testing.assert_array_equal(img_a.asnumpy(), img_b.asnumpy())
        np.testing.assert_array_equal(cls_a.asnumpy(), cls_b.asnumpy())
        np.testing.assert_allclose(box_a.asnumpy(), box_b.asnumpy(), atol=1e-4)
        positives += int((cls_a.asnumpy() > 0).sum())
    assert positives > 10


def test_gluoncvs_loss_on_ssd_zoo_outputs_equals_it_on_gluoncvs(models):
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
    from gluoncv.loss import SSDMultiBoxLoss
    reference, ours = models
    with mx.autograd.train_mode():
        anchors = reference(mx.nd.zeros((1, 3, 512, 512)))[2]
    transform = SSDDefaultTrainTransform(512, 512, anchors)
    seed_everything(3)
    items = [transform(mx.nd.array(image), label[:, :5]) for image, label in shapes_samples()]
    images, cls_targets, box_targets = (mx.nd.stack(*parts) for parts in zip(*items))
    losses = []
    for net in (reference, ours):
        with mx.autograd.record():
            cls_preds, box_preds, _ = net(images)
            total, cls_loss, box_loss = SSDMultiBoxLoss()([cls_preds], [box_preds],
                                                          [cls_targets], [box_targets])
        losses.append([float(v[0].sum().asscalar()) for v in (total, cls_loss, box_loss)])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    assert np.isfinite(losses[1]).all() and losses[1][0] > 0


def test_set_nms_as_gluoncvs_scripts_call_it_gives_gluoncvs_detections(models):
    reference, ours = models
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 512, 512))
    for net in (reference, ours):
        net.set_nms(nms_thresh=0.45, nms_topk=400)  # train_ssd.py's validate()
    want, got = [[o.asnumpy() for o in net(x)] for net in (reference, ours)]
    valid = want[0][0, :, 0] >= 0
    assert valid.sum() > 10
    np.testing.assert_array_equal(got[0][0, valid], want[0][0, valid])
    np.testing.assert_allclose(got[1][0, valid], want[1][0, valid], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[2][0, valid], want[2][0, valid], rtol=1e-3, atol=1e-2)
    ours.set_nms(mode='multibox')


def test_gluoncvs_block_calls_work(models, tmp_path):
    """save_params / load_params (GluonCV's scripts still call them), the trainers' parameter
    selection, static hybridization in both modes."""
    _, ours = models
    path = str(tmp_path / 'ours.params')
    with pytest.warns(DeprecationWarning):
        ours.save_params(path)
    other = ssd_zoo.get_model(NAME, pretrained_base=False)
    with pytest.warns(DeprecationWarning):
        other.load_params(path, ctx=mx.cpu())
    for mine, theirs in zip(other.collect_params().values(), ours.collect_params().values()):
        np.testing.assert_array_equal(mine.data().asnumpy(), theirs.data().asnumpy())
    biases = ours.collect_params('.*bias')
    assert biases.keys() and all(k.endswith('bias') for k in biases.keys())
    other.load_parameters(path, ctx=mx.cpu(), allow_missing=True, ignore_extra=True)
    other.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.zeros((1, 3, 512, 512))
    with mx.autograd.train_mode():
        assert other(x)[2].shape == (1, 6132, 4)
    assert other(x)[0].shape == (1, 100, 1)


def test_gluoncvs_metric_plot_and_export_block_take_ssd_zoo_outputs(models, tmp_path):
    import matplotlib
    matplotlib.use('Agg')
    from gluoncv.utils import export_block, viz
    from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
    _, ours = models
    image, label = shapes_samples(1)[0]
    x = mx.nd.image.normalize(mx.nd.image.to_tensor(mx.nd.array(image)),
                              mean=ssd_zoo.defaults.MEAN, std=ssd_zoo.defaults.STD)[None]
    ids, scores, boxes = ours(x)
    metric = VOC07MApMetric(iou_thresh=0.5, class_names=ours.classes)
    gt = mx.nd.array(label[None])
    metric.update(boxes, ids, scores, gt.slice_axis(axis=-1, begin=0, end=4),
                  gt.slice_axis(axis=-1, begin=4, end=5))
    assert 0 <= metric.get()[1][-1] <= 1
    ax = viz.plot_bbox(image, boxes[0], scores[0], ids[0], class_names=ours.classes)
    assert ax is not None
    prefix = str(tmp_path / 'exported')
    export_block(prefix, ours, data_shape=(512, 512, 3), preprocess=True, layout='HWC')
    loaded = gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'],
                                       prefix + '-0000.params')
    again = loaded(mx.nd.array(image[None]))
    np.testing.assert_allclose(again[1].asnumpy(), scores.asnumpy(), rtol=1e-3, atol=1e-4)


GLUONCV_STYLE_SCRIPT = '''
import argparse
from mxnet import gluon
from gluoncv import data as gdata
from gluoncv.model_zoo import get_model
parser = argparse.ArgumentParser()
for flag in ('--network', '--data-shape', '--batch-size', '--epochs', '--gpus', '--num-workers',
             '--val-interval', '--log-interval', '--save-prefix', '--lr', '--momentum', '--wd'):
    parser.add_argument(flag)
args = parser.parse_args()
train = gdata.VOCDetection(splits=[(2007, 'trainval'), (2012, 'trainval')])
val = gdata.VOCDetection(splits=[(2007, 'test')])
net = get_model('_'.join(('ssd', args.data_shape, args.network, 'voc')), pretrained_base=True,
                norm_layer=gluon.nn.BatchNorm)
print(type(net).__module__, ','.join(net.classes), len(train), len(val), train[0][1].shape[1])
'''


def test_the_drop_in_runner_hands_gluoncvs_script_ssd_zoo_and_the_shapes_data(tmp_path):
    """scripts/gluoncv_drop_in.py swaps GluonCV's get_model and VOCDetection the way its
    custom-dataset tutorial does, so an unchanged GluonCV script trains an ssd_zoo model on the
    generated shapes (a stand-in script making the calls GluonCV's train_ssd.py makes)."""
    import subprocess
    import sys

    from ssd_zoo.data import ShapesSpec, generate_shapes
    generate_shapes(str(tmp_path / 'shapes' / 'VOC2007'), ShapesSpec(num_train=6, num_val=3))
    script = tmp_path / 'train_ssd.py'
    script.write_text(GLUONCV_STYLE_SCRIPT)
    runner = os.path.join(os.path.dirname(__file__), '..', 'scripts', 'gluoncv_drop_in.py')
    out = subprocess.run([sys.executable, runner, 'train', '--inner', '--gluoncv-script',
                          str(script), '--root', str(tmp_path / 'shapes'), '--work',
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    module, classes, train, val, columns = out.stdout.split()[-5:]
    assert module == 'ssd_zoo.model.ssd' and classes == 'circle,rectangle,triangle,star'
    assert (train, val) == ('6', '3') and int(columns) >= 5
