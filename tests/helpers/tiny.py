"""A tiny SSD without BatchNorm and a deterministic training run, shared by the
multi-device and distributed tests (and run as a worker program by the latter).

Without BatchNorm the update of a batch does not depend on how the batch is split over
devices or workers, so runs can be compared number for number. They still drift apart slowly:
convolutions of 4 and of 8 images round differently, and hard-negative mining turns a
rounding-level difference in a score into a different mined anchor. SGD (whose update is linear
in the gradient) over a few steps keeps that below 1e-5; Adam amplifies it near zero gradients.
"""
import argparse
import hashlib
import json
import logging
import os

import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock, nn

from ssd_zoo.data import VOCFolder
from ssd_zoo.model.anchors import anchor_layouts
from ssd_zoo.model.ssd import SSD
from ssd_zoo.train import TrainConfig, fit

SIDE = 96


class TinyFeatures(HybridBlock):
    """Five stride-2 conv + ReLU layers; returns the stride-16 and stride-32 maps."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.convs = nn.HybridSequential()
            for channels in (16, 32, 32, 48, 64):
                self.convs.add(nn.Conv2D(channels, 3, strides=2, padding=1, activation='relu'))

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        outputs = []
        for conv in self.convs:
            x = conv(x)
            outputs.append(x)
        return outputs[-2:]


def tiny_ssd(classes, seed=0):
    mx.random.seed(seed)
    layouts = anchor_layouts([20, 45, 90], [[1, 2, .5]] * 2, [16, 32])
    net = SSD(TinyFeatures(), layouts, classes, SIDE)
    net.initialize()
    net(mx.nd.zeros((1, 3, SIDE, SIDE)))
    return net


def weights(net):
    return {k: p.data().asnumpy() for k, p in sorted(net._collect_params_with_prefix().items())}


def digest(net):
    sha = hashlib.sha1()
    for value in weights(net).values():
        sha.update(value.tobytes())
    return sha.hexdigest()


def train(root, out, kvstore, batch_size, contexts=1, epochs=2, optimizer='sgd', lr=0.02,
          resume=False):
    """Train the tiny SSD; write per-step weight digests, the history and the final weights."""
    dataset = VOCFolder(root, 'train')
    net = tiny_ssd(dataset.classes)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, data_shape=SIDE, optimizer=optimizer,
                      lr=lr, momentum=0.9, wd=0, lr_mode='step', save_dir=os.path.join(out, 'run'),
                      save_interval=0, kvstore=kvstore, network='tiny', resume=resume,
                      warmup_epochs=0, num_workers=0,
                      augment=dict(distort=False, expand=False, crop=False, flip=False))
    digests = []
    history = fit(net, dataset, None, cfg, [mx.cpu(i) for i in range(contexts)],
                  on_step=lambda epoch, i, n: digests.append(digest(n)))
    tag = 'worker%d' % os.getpid() if kvstore.startswith('dist') else 'single'
    np.savez(os.path.join(out, '%s-weights.npz' % tag), **weights(net))
    with open(os.path.join(out, '%s.json' % tag), 'w') as f:
        json.dump({'digests': digests, 'history': history}, f)
    return net, history


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('root')
    p.add_argument('out')
    p.add_argument('--kvstore', default='device')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--contexts', type=int, default=1)
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--resume', action='store_true')
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    train(a.root, a.out, a.kvstore, a.batch_size, a.contexts, a.epochs, resume=a.resume)
