"""The training targets (host matching + device mining) against MXNet's ``MultiBoxTarget``
itself: equal outputs, bit for bit, on random batches, ties and edge cases."""
import mxnet as mx
import numpy as np
import pytest

from ssd_zoo.model.anchors import corner_anchors
from ssd_zoo.train.loss import SSDMultiBoxLoss
from ssd_zoo.train.targets import match_anchors, mine_negatives, multibox_target

DEFAULT = SSDMultiBoxLoss().target_options


def random_anchors(rng, count):
    centre = rng.uniform(0, 1, (count, 2))
    size = rng.uniform(0.02, 0.6, (count, 2))
    return np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)


def grid_anchors(cells=8, sizes=(0.1, 0.2, 0.2)):
    """A regular grid with a repeated size: many exactly equal IoUs (ties)."""
    centres = (np.stack(np.meshgrid(np.arange(cells), np.arange(cells)), -1).reshape(-1, 2)
               + .5) / cells
    return np.concatenate([np.concatenate([centres - s / 2, centres + s / 2], 1)
                           for s in sizes]).astype(np.float32)


def random_labels(rng, batch, rows, classes):
    labels = -np.ones((batch, rows, 5), np.float32)
    for b in range(batch):
        for i in range(rng.integers(0, rows + 1)):  # some images have no objects
            x, y = rng.uniform(0, .8, 2)
            w, h = rng.uniform(.05, .5, 2)
            labels[b, i] = [rng.integers(0, classes), x, y, min(x + w, 1), min(y + h, 1)]
    return labels


def assert_equal_to_operator(anchors, labels, cls_preds, **options):
    options = {**DEFAULT, **options}
    args = [mx.nd.array(a) for a in (anchors[None], labels, cls_preds)]
    want = mx.nd.contrib.MultiBoxTarget(*args, **options)
    got = multibox_target(*args, **options)
    for name, w, g in zip(('loc_target', 'loc_mask', 'cls_target'), want, got):
        w, g = w.asnumpy(), g.asnumpy()
        assert g.shape == w.shape, name
        differ = np.argwhere(g != w)
        assert not len(differ), '%s differs at %d places, first %s: operator %s, ours %s' % (
            name, len(differ), differ[0], w[tuple(differ[0])], g[tuple(differ[0])])
    return [t.asnumpy() for t in got]


@pytest.mark.parametrize('options', [
    {},
    {'overlap_threshold': 0.0},            # bipartite matches only
    {'overlap_threshold': 0.35},
    {'negative_mining_ratio': -1.0},       # every non-positive is a negative
    {'negative_mining_ratio': 2.5},        # truncated negative counts
    {'negative_mining_thresh': 0.3},
    {'variances': (0.2, 0.1, 0.3, 0.25)},
    {'ignore_label': -2.0},
], ids=lambda o: ','.join('%s=%s' % kv for kv in o.items()) or 'defaults')
def test_targets_equal_multibox_target_on_random_batches(options):
    rng = np.random.default_rng(len(str(options)))
    for _ in range(4):
        classes = int(rng.integers(1, 6))
        anchors = random_anchors(rng, int(rng.integers(50, 3000)))
        labels = random_labels(rng, int(rng.integers(1, 6)), int(rng.integers(1, 7)), classes)
        preds = rng.normal(0, 2, (len(labels), classes + 1, len(anchors))).astype(np.float32)
        cls_target = assert_equal_to_operator(anchors, labels, preds, **options)[2]
        assert (cls_target > 0).any() or (labels[:, :, 0] < 0).all()


def test_targets_equal_multibox_target_on_ties():
    """Equal IoUs (a regular grid, the same ground truth twice) and equal probabilities
    (constant predictions; saturated ones) go the operator's way: lowest anchor, then lowest
    ground truth; of equally hard negatives the lowest anchors."""
    anchors = grid_anchors()
    box = [0.25, 0.25, 0.5, 0.5]
    labels = np.array([[[0] + box, [1] + box, [2, .5, .5, .7, .9]],
                       [[1, .1, .1, .2, .2], [-1] * 5, [-1] * 5]], np.float32)
    constant = np.zeros((2, 4, len(anchors)), np.float32)
    assert_equal_to_operator(anchors, labels, constant)
    saturated = np.zeros((2, 4, len(anchors)), np.float32)
    saturated[:, 0] = np.where(np.arange(len(anchors)) % 3, 40.0, 1.0)  # P(background) = 1.0f
    assert_equal_to_operator(anchors, labels, saturated)


def test_targets_equal_multibox_target_on_a_real_training_batch():
    """A plainnet SSD300's anchors (8744) and predictions, augmented shapes images."""
    from ssd_zoo.data import SHAPE_CLASSES, ShapesSpec, TrainTransform, batchify
    from ssd_zoo.data.preprocess import normalize_batch
    from ssd_zoo.data.shapes import render_image
    from ssd_zoo.model.zoo import model_for_network
    from ssd_zoo.train.loss import to_multibox_labels
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(4):
        image, objects = render_image(rng, ShapesSpec())
        label = np.array([box + [SHAPE_CLASSES.index(cls)] for cls, box in objects],
                         np.float32)
        samples.append(TrainTransform(300)(image, label, rng))
    images, pixels = batchify(samples)
    net = model_for_network('plainnet', 300, SHAPE_CLASSES, 'shapes', pretrained_base=False)
    net.initialize()
    with mx.autograd.train_mode():  # the training outputs: predictions and anchors
        cls_preds, _, anchors = net(normalize_batch(mx.nd.array(images, dtype='uint8')))
    assert anchors.shape[1] == 8744
    assert_equal_to_operator(corner_anchors(anchors.asnumpy()[0], 300, 300),
                             to_multibox_labels(pixels, 300, 300),
                             cls_preds.transpose((0, 2, 1)).asnumpy())


def test_labels_end_at_the_first_padding_row():
    """The operator counts an image's ground truths up to its first class -1 row; a box after
    it is not matched (the loader never writes one; the behaviour is still the operator's)."""
    rng = np.random.default_rng(3)
    anchors = random_anchors(rng, 500)
    labels = np.array([[[1, .1, .1, .4, .4], [-1] * 5, [0, .5, .5, .9, .9]]], np.float32)
    preds = rng.normal(size=(1, 3, 500)).astype(np.float32)
    assert_equal_to_operator(anchors, labels, preds)


def test_fewer_candidates_than_wanted_negatives_takes_them_all():
    """Where the operator aborts (its CHECK_GE on the candidates), every candidate is mined."""
    anchors = np.array([[0, 0, .5, .5], [.5, .5, 1, 1], [0, .5, .5, 1]], np.float32)
    labels = np.array([[[0, 0, 0, .5, .5]]], np.float32)
    matches = match_anchors(anchors, labels)
    assert matches.wanted.tolist() == [2] and (matches.cls_target == 0).sum() == 2
    target = mine_negatives(mx.nd.zeros((1, 3, 2)), mx.nd.array(matches.cls_target),
                            matches.wanted)
    assert target.asnumpy().tolist() == [[1, 0, 0]]


def test_loss_from_host_matches_equals_the_operator_loss_and_its_gradient():
    rng = np.random.default_rng(7)
    anchors = random_anchors(rng, 800)
    labels = random_labels(rng, 3, 4, 3)
    labels[0, 0] = [2, .2, .2, .6, .6]  # at least one object
    predictions = [rng.normal(size=(3, 800, n)).astype(np.float32) for n in (4, 4)]
    loss = SSDMultiBoxLoss()

    def sums_and_gradients(targets_from):
        cls_preds, box_preds = (mx.nd.array(p) for p in predictions)
        for p in (cls_preds, box_preds):
            p.attach_grad()
        with mx.autograd.record():
            if targets_from == 'operator':
                sums = loss(cls_preds, box_preds, mx.nd.array(anchors[None]),
                            mx.nd.array(labels))
            else:
                sums = loss.from_matches(cls_preds, box_preds, loss.match(anchors, labels))
            total = sums[0].sum() + sums[1].sum()
        total.backward()
        return [s.asnumpy() for s in sums] + [cls_preds.grad.asnumpy(), box_preds.grad.asnumpy()]

    want, got = sums_and_gradients('operator'), sums_and_gradients('host')
    assert want[2].sum() > 0
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)


def test_targets_equal_multibox_target_on_degenerate_boxes():
    """Zero-area and inverted boxes (a union of 0, negative areas) get the kernel's IoUs."""
    rng = np.random.default_rng(7)
    anchors = np.concatenate([random_anchors(rng, 200),
                              np.array([[.5, .5, .5, .5], [.3, .3, .2, .2]], np.float32)])
    labels = np.array([[[1, .5, .5, .5, .5], [0, .3, .3, .2, .2], [2, .1, .1, .6, .6]],
                       [[0, .2, .2, .4, .4], [-1] * 5, [1, .1, .1, .3, .3]]], np.float32)
    preds = rng.normal(0, 2, (2, 4, len(anchors))).astype(np.float32)
    assert_equal_to_operator(anchors, labels, preds)
