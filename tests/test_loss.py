"""The MultiBoxTarget loss against an independent NumPy computation on a hand-made case."""
import mxnet as mx
import numpy as np
import pytest

from ssd_zoo.defaults import VARIANCES
from ssd_zoo.train.loss import SSDMultiBoxLoss, to_multibox_labels
from ssd_zoo.train.schedule import LRSchedule


def iou_matrix(anchors, gts):
    lt = np.maximum(anchors[:, None, :2], gts[None, :, :2])
    rb = np.minimum(anchors[:, None, 2:], gts[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda b: np.prod(b[:, 2:] - b[:, :2], axis=1)  # noqa: E731
    return inter / (area(anchors)[:, None] + area(gts)[None, :] - inter)


def numpy_ssd_loss(cls_preds, box_preds, anchors, gts, gt_classes, ratio=3, thresh=0.5):
    """SSD loss by the book: bipartite + IoU>0.5 matching, 3:1 hardest negatives, CE + smooth L1,
    both summed (the caller divides by the number of positives)."""
    n = len(anchors)
    iou = iou_matrix(anchors, gts)
    match = -np.ones(n, int)
    work = iou.copy()
    for _ in range(len(gts)):  # bipartite: the globally best (anchor, gt) pair, repeatedly
        a, g = np.unravel_index(np.argmax(work), work.shape)
        if work[a, g] <= 1e-6:
            break
        match[a] = g
        work[a, :] = -1
        work[:, g] = -1
    for a in range(n):
        if match[a] < 0 and iou[a].max() > thresh:
            match[a] = int(np.argmax(iou[a]))
    positive = match >= 0
    logits = cls_preds - cls_preds.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    candidates = np.where(~positive & (iou.max(axis=1) < thresh))[0]
    hardest = candidates[np.argsort(np.exp(log_probs[candidates, 0]), kind='stable')]
    negatives = hardest[:int(positive.sum() * ratio)]
    target = np.zeros(n, int)
    target[positive] = gt_classes[match[positive]] + 1
    used = np.concatenate([np.where(positive)[0], negatives])
    cls_loss = -log_probs[used, target[used]].sum()
    a, g = anchors[positive], gts[match[positive]]
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    encoded = np.stack([((g[:, 0] + g[:, 2]) - (a[:, 0] + a[:, 2])) / 2 / aw / VARIANCES[0],
                        ((g[:, 1] + g[:, 3]) - (a[:, 1] + a[:, 3])) / 2 / ah / VARIANCES[1],
                        np.log(gw / aw) / VARIANCES[2], np.log(gh / ah) / VARIANCES[3]], axis=1)
    diff = np.abs(box_preds[positive] - encoded)
    box_loss = np.where(diff < 1, 0.5 * diff ** 2, diff - 0.5).sum()
    return cls_loss, box_loss, positive.sum()


def test_loss_matches_numpy_reference_on_hand_made_case():
    rng = np.random.default_rng(0)
    # a 4x4 grid of anchors at two sizes and two ground truths, one matched only bipartitely
    centres = (np.stack(np.meshgrid(np.arange(4), np.arange(4)), -1).reshape(-1, 2) + .5) / 4
    anchors = np.concatenate([np.concatenate([centres - s, centres + s], 1)
                              for s in (0.1, 0.15, 0.2)]).astype(np.float32)
    gts = np.array([[0.2, 0.2, 0.6, 0.58], [0.55, 0.6, 0.62, 0.7]], np.float32)
    classes = np.array([2, 0])
    num_classes = 3
    cls_preds = rng.normal(0, 1, (len(anchors), num_classes + 1)).astype(np.float32)
    box_preds = rng.normal(0, 0.5, (len(anchors), 4)).astype(np.float32)
    want = numpy_ssd_loss(cls_preds, box_preds, anchors, gts, classes)
    assert want[2] >= 3, 'the case must have threshold matches beyond the bipartite ones'

    pixels = np.concatenate([gts * 200, classes[:, None]], 1)[None]  # 200x200 image
    pixels = np.concatenate([pixels, -np.ones((1, 1, 5))], 1)  # one padding row
    labels = to_multibox_labels(mx.nd.array(pixels), 200, 200)
    got = SSDMultiBoxLoss()(mx.nd.array(cls_preds[None]), mx.nd.array(box_preds[None]),
                            mx.nd.array(anchors[None]), labels)
    np.testing.assert_allclose([float(g.asscalar()) for g in got], want, rtol=1e-4)


def test_loss_gradient_flows_to_predictions():
    cls_preds = mx.nd.random.normal(shape=(2, 32, 4))
    box_preds = mx.nd.random.normal(shape=(2, 32, 4))
    anchors = mx.nd.contrib.MultiBoxPrior(mx.nd.zeros((1, 1, 4, 4)), sizes=(.3, .5))
    labels = mx.nd.array([[[1, .1, .1, .5, .5]], [[-1, -1, -1, -1, -1]]])
    for p in (cls_preds, box_preds):
        p.attach_grad()
    with mx.autograd.record():
        cls_loss, box_loss, num_pos = SSDMultiBoxLoss()(cls_preds, box_preds, anchors, labels)
        total = (cls_loss.sum() + box_loss.sum()) / num_pos.sum()
    total.backward()
    assert abs(cls_preds.grad[0]).sum() > 0 and abs(box_preds.grad[0]).sum() > 0
    # an image without objects contributes nothing (MultiBoxTarget ignores all its anchors)
    assert abs(cls_preds.grad[1]).sum() == 0 and cls_loss[1].asscalar() == 0


def test_learning_rate_schedules():
    step = LRSchedule(0.1, total=100, warmup=10, mode='step', steps=[50, 80], factor=0.1)
    assert step(0) == 0.1 / 3 and abs(step(10) - 0.1) < 1e-12
    assert abs(step(60) - 0.01) < 1e-12 and abs(step(90) - 0.001) < 1e-12
    cosine = LRSchedule(0.1, total=110, warmup=10, mode='cosine')
    assert abs(cosine(10) - 0.1) < 1e-12 and abs(cosine(60) - 0.05) < 1e-12
    assert cosine(110) < 1e-12


def test_train_mode_anchors_given_to_the_loss_are_refused_with_the_conversion():
    """The train-mode anchors are GluonCV's pixel (cx, cy, w, h): passing them as the
    normalized corners the loss takes is named, not trained on silently."""
    import ssd_zoo
    from ssd_zoo.model.anchors import corner_anchors
    net = ssd_zoo.get_ssd('plainnet', 96, classes=['a'])
    net.initialize()
    x = mx.nd.zeros((1, 3, 96, 96))
    with mx.autograd.train_mode():
        cls_preds, box_preds, anchors = net(x)
    labels = mx.nd.array([[[0, .1, .1, .5, .5]]])
    with pytest.raises(ValueError, match='corner_anchors'):
        SSDMultiBoxLoss()(cls_preds, box_preds, anchors, labels)
    SSDMultiBoxLoss()(cls_preds, box_preds, corner_anchors(anchors, 96, 96), labels)
