"""Shared fixtures: GluonCV reference models with well-conditioned random weights."""
import ssd_zoo  # noqa: F401  (first: it sets MXNet's threads before libmxnet loads)

# isort: split
import logging

import mxnet as mx
import numpy as np
import pytest

from ssd_zoo.boxes import iou as box_iou  # noqa: F401  (shared with the tests)

logging.getLogger('ssd_zoo').setLevel(logging.WARNING)


def closed_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_model_store_outside(monkeypatch):
    """Every test's model store is a closed port on this machine: nothing is downloaded
    (tests that download start their own server on 127.0.0.1)."""
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:%d/' % closed_port())


@pytest.fixture(autouse=True)
def _isolated_model_home(tmp_path, monkeypatch):
    """No test reads or writes the user's ~/.mxnet/models."""
    monkeypatch.setenv('MXNET_HOME', str(tmp_path / 'mxnet_home'))


def seed_everything(seed=0):
    mx.random.seed(seed)
    np.random.seed(seed)


def condition_predictors(net, x):
    """Rescale a randomly initialized SSD's predictors so that outputs are informative.

    With raw random weights the class logits saturate (every score ~1) and box offsets overflow
    ``exp``; comparisons then test ties and infinities. Each head's weights are scaled so that
    class logits have std 2 and box offsets std 0.3, and class biases are drawn at random.
    """
    with mx.autograd.predict_mode():
        net(x)
        features = net.features(x)
    for feat, cls_pred, box_pred in zip(features, net.class_predictors, net.box_predictors):
        for pred, target_std, bias_std in ((cls_pred, 2.0, 1.0), (box_pred, 0.3, 0.0)):
            conv = pred.predictor
            conv.bias.set_data(conv.bias.data() * 0)
            std = float(pred(feat).asnumpy().std()) or 1.0
            conv.weight.set_data(conv.weight.data() * (target_std / std))
            conv.bias.set_data(mx.nd.random.normal(0, bias_std, shape=conv.bias.shape)
                               if bias_std else conv.bias.data())


def gluoncv_model(name, x, seed=0, **kwargs):
    """A GluonCV zoo SSD with random, conditioned weights (no download)."""
    import gluoncv
    seed_everything(seed)
    net = gluoncv.model_zoo.get_model(name, pretrained_base=False, **kwargs)
    net.initialize()
    condition_predictors(net, x)
    return net


def train_mode_anchors(net, x):
    """The train-mode anchors ``(N, 4)`` of a network (GluonCV's or ssd_zoo's) for input ``x``:
    GluonCV's format, pixel ``(cx, cy, w, h)``."""
    with mx.autograd.train_mode():
        return net(x)[2].asnumpy()[0]
