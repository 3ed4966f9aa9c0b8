"""Class and box predictors: one convolution per SSD head (GluonCV's ``ConvPredictor``).

On a CPU the convolution is computed with its output channels padded to oneDNN's block
(:func:`ssd_zoo.runtime.conv_channel_block`) and the padding sliced off: a class predictor's
``anchors * (classes + 1)`` channels (20, 30, 84, 126 ...) are rarely a multiple of 8 or 16,
and oneDNN then takes slower kernels, forward and backward (benchmarks/README.md). The padding
rows are zeros built in the graph from the weight itself, so the parameters keep their
shapes (GluonCV's files, checkpoints) and the outputs are the unpadded convolution's.
"""
from __future__ import annotations

from mxnet.gluon import HybridBlock, nn

from ..defaults import predictor_init
from ..runtime import conv_channel_block

__all__ = ['ConvPredictor', 'BlockPaddedConv2D']


def _zero_rows(F, array, count: int):
    """``count`` rows of zeros shaped as ``array``'s rows (no shape needed: it is symbolic)."""
    row = F.zeros_like(F.slice_axis(array, axis=0, begin=0, end=1))
    return F.repeat(row, repeats=count, axis=0)


class BlockPaddedConv2D(nn.Conv2D):
    """``nn.Conv2D`` whose CPU computation pads the output channels to oneDNN's block.

    Same parameters, outputs and gradients as ``nn.Conv2D`` (the padded channels have zero
    weights and bias and are sliced off); on other devices it is ``nn.Conv2D``.
    """

    def hybrid_forward(self, F, x, weight, bias=None):  # pylint: disable=arguments-differ
        channels = self._channels
        extra = -channels % conv_channel_block() if self._on_cpu() else 0
        if not extra:
            return super().hybrid_forward(F, x, weight, bias)
        inputs = [F.concat(weight, _zero_rows(F, weight, extra), dim=0)]
        if bias is not None:
            inputs.append(F.concat(bias, _zero_rows(F, bias, extra), dim=0))
        options = dict(self._kwargs, num_filter=channels + extra)
        out = getattr(F, self._op_name)(x, *inputs, name='fwd', **options)
        out = F.slice_axis(out, axis=1, begin=0, end=channels)
        return self.act(out) if self.act is not None else out

    def _on_cpu(self) -> bool:
        contexts = self.weight.list_ctx()
        return bool(contexts) and all(c.device_type == 'cpu' for c in contexts)


class ConvPredictor(HybridBlock):
    """A ``kernel x kernel`` convolution predicting ``channels`` values at every cell.

    The wrapped layer is named ``predictor`` so parameters are ``<i>.predictor.weight`` as in
    GluonCV files.
    """

    def __init__(self, channels: int, kernel: int = 3, in_channels: int = 0, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.predictor = BlockPaddedConv2D(channels, kernel, padding=kernel // 2,
                                               in_channels=in_channels,
                                               weight_initializer=predictor_init(),
                                               bias_initializer='zeros')

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.predictor(x)
