"""Training end to end on a tiny generated dataset: the loss falls, resuming is exact,
divergence stops with a diagnosis, frozen layers stay fixed, evaluation agrees with GluonCV."""
import json
import os
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest

import ssd_zoo
from ssd_zoo.data import ShapesSpec, ValTransform, VOCFolder, generate_shapes, make_loader
from ssd_zoo.evaluation import evaluate
from ssd_zoo.model.anchors import corner_anchors
from ssd_zoo.model.spec import spec_of
from ssd_zoo.train import TrainConfig, TrainingDiverged, fit
from ssd_zoo.train.checkpoint import load_checkpoint

TINY = ShapesSpec(num_train=32, num_val=8, image_size=96, min_side=16, max_side=60,
                  max_objects=3, seed=1)


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    root = generate_shapes(str(tmp_path_factory.mktemp('shapes')), TINY)
    return VOCFolder(root, 'train'), VOCFolder(root, 'val')


def tiny_net(classes, seed=0):
    mx.random.seed(seed)
    net = ssd_zoo.get_ssd('plainnet', 96, classes=classes)
    net.initialize()
    net(mx.nd.zeros((1, 3, 96, 96)))  # materialize deferred shapes
    return net


def config(tmp_path, **kw):
    base = dict(epochs=2, batch_size=8, data_shape=96, optimizer='adam', lr=3e-3, wd=0,
                lr_mode='cosine', save_dir=str(tmp_path / 'run'), val_interval=1,
                warmup_epochs=0, num_workers=0, save_interval=1,
                augment=dict(distort=False, expand=False, crop=False), network='plainnet')
    base.update(kw)
    return TrainConfig(**base)


def weights(net):
    """Parameter values by structural name (the same in every instance of a network)."""
    return {k: p.data().asnumpy().copy()
            for k, p in net._collect_params_with_prefix().items()}


def test_tiny_training_loss_falls_and_writes_outputs(tiny_data, tmp_path):
    train, val = tiny_data
    net = tiny_net(train.classes)
    history = fit(net, train, val, config(tmp_path, epochs=6, lr=5e-3))
    losses = [r['cls_loss'] + r['box_loss'] for r in history]
    assert losses[-1] < 0.8 * losses[0]
    run = tmp_path / 'run'
    for name in ('last.params', 'last.states', 'last.json', 'best.params', 'metrics.csv',
                 'training.png', 'epoch0001.params'):
        assert (run / name).is_file(), name
    assert len(open(run / 'metrics.csv').read().splitlines()) == 7


def train_command(root, save_dir, *extra):
    script = os.path.join(os.path.dirname(__file__), '..', 'scripts', 'train_ssd.py')
    return [sys.executable, script, '--network', 'plainnet', '--data-shape', '96',
            '--dataset', 'custom', '--dataset-root', root, '--batch-size', '8', '--epochs', '3',
            '--num-workers', '0', '--save-prefix', save_dir, '--save-interval', '1',
            '--augment', 'flip'] + list(extra)


def test_killed_training_resumes_to_the_uninterrupted_weights(tiny_data, tmp_path):
    """Kill -9 a training process once its first checkpoint is written, resume it, and compare
    with a run that was never interrupted: weights, optimizer state and schedule continue."""
    root = tiny_data[0].root
    subprocess.run(train_command(root, str(tmp_path / 'straight')), check=True,
                   capture_output=True)
    killed = tmp_path / 'killed'
    process = subprocess.Popen(train_command(root, str(killed)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / 'epoch0001.json').is_file():
        assert process.poll() is None and time.time() < deadline, 'no checkpoint appeared'
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / 'epoch0003.json').is_file(), 'the run finished before the kill'
    subprocess.run(train_command(root, str(killed), '--resume'), check=True,
                   capture_output=True)
    want = mx.nd.load(str(tmp_path / 'straight' / 'last.params'))
    got = mx.nd.load(str(killed / 'last.params'))
    assert json.load(open(killed / 'last.json'))['epoch'] == 3
    for key in want:
        np.testing.assert_allclose(got[key].asnumpy(), want[key].asnumpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=key)


def test_diverging_loss_stops_with_a_diagnosis(tiny_data, tmp_path):
    train, _ = tiny_data
    net = tiny_net(train.classes)
    with pytest.raises(TrainingDiverged, match='learning rate') as err:
        fit(net, train, None, config(tmp_path, optimizer='sgd', lr=1e30, epochs=2))
    assert 'loss became' in str(err.value)


def test_frozen_parameters_do_not_change(tiny_data, tmp_path):
    train, _ = tiny_data
    net = tiny_net(train.classes)
    before = weights(net)
    fit(net, train, None, config(tmp_path, epochs=1, freeze='plainnet0_conv0'))
    after = weights(net)
    frozen = [k for k in before if 'plainnet0_conv0_' in k]
    assert frozen and all((before[k] == after[k]).all() for k in frozen)
    assert any(not (before[k] == after[k]).all() for k in before if k not in frozen)
    with pytest.raises(ValueError, match='matches no parameter'):
        fit(net, train, None, config(tmp_path, epochs=1, freeze='no_such_layer'))


def test_checkpoint_records_the_model_to_rebuild(tiny_data, tmp_path):
    train, val = tiny_data
    net = tiny_net(train.classes)
    fit(net, train, val, config(tmp_path, epochs=1))
    rebuilt = tiny_net(train.classes, seed=5)
    state = load_checkpoint(str(tmp_path / 'run' / 'last'), rebuilt)
    assert state['model'] == {'network': 'plainnet', 'data_shape': 96,
                              'classes': train.classes, 'dataset': '', 'dataset_root': '',
                              'spec': spec_of(net)}
    for key, value in weights(net).items():
        np.testing.assert_array_equal(weights(rebuilt)[key], value)


def test_evaluation_agrees_with_gluoncv_voc07_metric(tiny_data):
    from gluoncv.utils.metrics.voc_detection import VOC07MApMetric
    train, val = tiny_data
    net = tiny_net(train.classes)
    loader, _ = make_loader(val, ValTransform(96), 4, shuffle=False, drop_last=False)
    result = evaluate(net, loader, train.classes, ('voc07', 'voc', 'coco'))
    reference = VOC07MApMetric(iou_thresh=0.5, class_names=train.classes)
    for ids, scores, boxes, labels in result['detections']:
        reference.update(boxes, ids, scores, labels[:, :, :4], labels[:, :, 4:5],
                         labels[:, :, 5:6])
    assert abs(reference.get()[1][-1] - result['voc07']['mAP']) < 1e-6
    assert result['images'] == len(val)
    assert 0 <= result['coco']['mAP'] <= 1


def test_loss_split_over_devices_gives_the_whole_batch_gradient(tiny_data):
    """The loss is normalized by the positives of the whole batch: two CPU contexts with half a
    batch each produce the gradient (w.r.t. the predictions) of one context with all of it.
    (BatchNorm statistics of the backbone do depend on the split, as in any data-parallel
    training without synchronized BatchNorm.)"""
    from ssd_zoo.data.transforms import TrainTransform, normalize_batch
    from ssd_zoo.train.loss import SSDMultiBoxLoss, to_multibox_labels
    train, _ = tiny_data
    loader, _ = make_loader(train, TrainTransform(96, distort=False, expand=False, crop=False,
                                                  flip=False), 8, shuffle=False)
    images, labels = next(iter(loader))
    net = tiny_net(train.classes)
    with mx.autograd.train_mode():
        cls_preds, box_preds, anchors = net(normalize_batch(mx.nd.array(images, dtype='uint8')))
    anchors = corner_anchors(anchors, 96, 96)  # MultiBoxTarget's format
    targets = to_multibox_labels(mx.nd.array(labels), 96, 96)
    loss_fn = SSDMultiBoxLoss()

    def prediction_gradients(contexts):
        splits = np.array_split(np.arange(len(images)), len(contexts))
        inputs = []
        for ctx, rows in zip(contexts, splits):
            part = [cls_preds[rows[0]:rows[-1] + 1].as_in_context(ctx),
                    box_preds[rows[0]:rows[-1] + 1].as_in_context(ctx)]
            for array in part:
                array.attach_grad()
            inputs.append(part)
        with mx.autograd.record():
            parts = [loss_fn(c, b, anchors.as_in_context(ctx),
                             targets[rows[0]:rows[-1] + 1].as_in_context(ctx))
                     for (c, b), ctx, rows in zip(inputs, contexts, splits)]
            num_pos = sum(float(p[2].sum().asscalar()) for p in parts)
            losses = [(c.sum() + b.sum()) / num_pos for c, b, _ in parts]
        mx.autograd.backward(losses)
        return [np.concatenate([part[i].grad.asnumpy() for part in inputs]) for i in (0, 1)]

    whole = prediction_gradients([mx.cpu(0)])
    split = prediction_gradients([mx.cpu(0), mx.cpu(1)])
    assert np.abs(whole[0]).sum() > 0
    for got, want in zip(split, whole):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize('change,message', [
    ('reordered', 'the same names in another order'),
    ('other_classes', 'trained on the classes'),
    ('data_shape', 'data shape 96; this run has 128'),
    ('network', 'network plainnet; this run has resnet18_v1'),
    ('dataset', 'dataset shapes; this run has voc'),
])
def test_resume_refuses_a_checkpoint_of_another_run(tiny_data, tmp_path, change, message):
    """--resume continues only the run it was: classes compared by name and order, input size,
    network, dataset; the message names both values and the way out (fine-tune from it)."""
    from ssd_zoo.train.loop import check_resumable
    train, val = tiny_data
    net = tiny_net(train.classes)
    fit(net, train, None, config(tmp_path, epochs=1, dataset='shapes'))
    prefix = str(tmp_path / 'run' / 'last')
    classes = {'reordered': train.classes[::-1],
               'other_classes': ['cat'] + list(train.classes[1:])}.get(change, train.classes)
    other = tiny_net(classes)
    cfg = config(tmp_path, resume=True, **dict({'dataset': 'shapes'}, **{
        'data_shape': {'data_shape': 128}, 'network': {'network': 'resnet18_v1'},
        'dataset': {'dataset': 'voc'}}.get(change, {})))
    with pytest.raises(ValueError, match=message) as err:
        check_resumable(prefix, other, cfg)
    assert '--resume %s.params' % prefix in str(err.value)
    check_resumable(prefix, tiny_net(train.classes), config(tmp_path, dataset='shapes'))
