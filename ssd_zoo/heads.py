"""Class and box predictors: one convolution per SSD head (GluonCV's ``ConvPredictor``)."""
from __future__ import annotations

from mxnet.gluon import HybridBlock, nn

from .defaults import predictor_init

__all__ = ['ConvPredictor']


class ConvPredictor(HybridBlock):
    """A ``kernel x kernel`` convolution predicting ``channels`` values at every cell.

    The wrapped layer is named ``predictor`` so parameters are ``<i>.predictor.weight`` as in
    GluonCV files.
    """

    def __init__(self, channels: int, kernel: int = 3, in_channels: int = 0, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.predictor = nn.Conv2D(channels, kernel, padding=kernel // 2,
                                       in_channels=in_channels,
                                       weight_initializer=predictor_init(),
                                       bias_initializer='zeros')

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.predictor(x)
