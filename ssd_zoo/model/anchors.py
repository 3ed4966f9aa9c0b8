"""Anchor layouts and the anchor generator built on ``MultiBoxPrior``.

An SSD head at stride ``step`` places ``A`` anchors at every cell of its feature map. Anchor
*shapes* (width, height in pixels) and their order are those of the SSD paper, which is also
the order ``MultiBoxPrior`` uses: every size with ``ratios[0]``, then ``sizes[0]`` with each of
``ratios[1:]``. Anchors are produced at run time from the feature map and the input image, so
any input size works (non-square included) and nothing is stored in a weights file.

Sizes and steps are pixels, as in GluonCV, so at any input size the anchors equal GluonCV's
(``SSDAnchorGenerator``) divided by the input width/height: corners normalized to [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
from mxnet.gluon import HybridBlock

__all__ = ['AnchorLayout', 'AnchorGenerator', 'anchor_layouts', 'paper_sizes', 'count_anchors',
           'corner_anchors']


@dataclass(frozen=True)
class AnchorLayout:
    """The anchors one SSD head places at each feature-map cell.

    Parameters
    ----------
    size : float
        The head's anchor size ``s_k`` in pixels.
    next_size : float
        The next head's size ``s_{k+1}``; the extra square anchor has side ``sqrt(s_k s_{k+1})``.
    ratios : tuple of float
        Aspect ratios (width / height); ``ratios[0]`` is normally 1.
    step : float
        Distance in pixels between neighbouring anchor centres.
    style : str
        ``'ssd'`` for the paper's order, ``'lite'`` for the TF object-detection order of
        GluonCV's ``LiteAnchorGenerator`` (first head: half-size square, no extra square).
    first : bool
        Whether this is the first head (matters for ``'lite'`` only).
    """

    size: float
    next_size: float
    ratios: Tuple[float, ...]
    step: float
    style: str = 'ssd'
    first: bool = False

    def shape_groups(self) -> List[Tuple[Tuple[float, ...], Tuple[float, ...]]]:
        """``(sizes, ratios)`` arguments of the ``MultiBoxPrior`` calls, in anchor order."""
        geo = math.sqrt(self.size * self.next_size)
        if self.style == 'ssd':
            return [((self.size, geo), tuple(self.ratios))]
        if self.style == 'lite':
            groups = [((self.size / 2,), (self.ratios[0],)),
                      ((self.size,), tuple(self.ratios[1:]))]
            if not self.first:
                groups.append(((geo,), (1.0,)))
            return groups
        raise ValueError("anchor style must be 'ssd' or 'lite', got %r" % (self.style,))

    def pixel_sizes(self) -> List[Tuple[float, float]]:
        """``(width, height)`` in pixels of the anchors of a cell, in anchor order, computed
        in float64 as GluonCV's anchor generators compute them (``s sqrt(r)``, ``s / sqrt(r)``)."""
        out = []
        for sizes, ratios in self.shape_groups():
            out += [(size * math.sqrt(ratios[0]), size / math.sqrt(ratios[0])) for size in sizes]
            out += [(sizes[0] * math.sqrt(r), sizes[0] / math.sqrt(r)) for r in ratios[1:]]
        return out

    @property
    def num_anchors(self) -> int:
        """Anchors per feature-map cell."""
        return sum(len(s) + len(r) - 1 for s, r in self.shape_groups())


def anchor_layouts(sizes: Sequence[float], ratios: Sequence[Sequence[float]],
                   steps: Sequence[float], style: str = 'ssd') -> List[AnchorLayout]:
    """Per-head layouts from GluonCV-style lists (``len(sizes) == heads + 1``).

    Raises
    ------
    ValueError
        When the list lengths disagree; the message names the lists and their lengths.
    """
    heads = len(ratios)
    if len(sizes) != heads + 1 or len(steps) != heads:
        raise ValueError(
            'anchor lists disagree: %d heads by ratios need %d sizes (got %d: %s) and %d steps '
            '(got %d: %s)' % (heads, heads + 1, len(sizes), list(sizes), heads, len(steps),
                              list(steps)))
    for k, r in enumerate(ratios):
        if not r or any(x <= 0 for x in r):
            raise ValueError('head %d: ratios must be a non-empty list of positive numbers, '
                             'got %r' % (k, r))
    return [AnchorLayout(float(sizes[k]), float(sizes[k + 1]), tuple(float(x) for x in ratios[k]),
                         float(steps[k]), style, first=(k == 0)) for k in range(heads)]


def paper_sizes(num_heads: int, base_size: int, smin: float = 0.2, smax: float = 0.9,
                first: float = 0.1) -> List[float]:
    """Anchor sizes in pixels from the SSD paper's scale formula, as its Caffe code computes it.

    The first head gets ``first * base_size``; the others get ``smin, smin + d, ...`` of the base
    size with ``d = floor(100 (smax - smin) / (num_heads - 2)) / 100`` (whole percents, as in the
    reference implementation), and one size past the last head is appended so that every head
    has a ``next_size``.

    Examples
    --------
    >>> [round(s) for s in paper_sizes(6, 300)]
    [30, 60, 111, 162, 213, 264, 315]
    """
    if num_heads < 2:
        raise ValueError('the SSD scale formula needs at least 2 heads, got %d' % num_heads)
    percent_step = math.floor(round(100 * (smax - smin), 6) / max(num_heads - 2, 1))
    scales = [smin + percent_step / 100.0 * k for k in range(num_heads)]
    return [first * base_size] + [s * base_size for s in scales]


def count_anchors(feature_shapes: Sequence[Tuple[int, int]],
                  layouts: Sequence[AnchorLayout]) -> List[int]:
    """Anchors of each head for feature maps of the given ``(height, width)``."""
    return [h * w * lay.num_anchors for (h, w), lay in zip(feature_shapes, layouts)]


class AnchorGenerator(HybridBlock):
    """Anchors of one head, normalized corners ``(1, H*W*A, 4)``, built by ``MultiBoxPrior``.

    ``MultiBoxPrior`` is run twice: on the feature map with ``size 0`` and the pixel step, which
    lays out the anchor centres in pixels; and on a 1x1 slice of it with the real sizes and
    ratios, which gives the ``A`` anchor shapes (pixel corners around the origin) in the
    operator's order. Their sum, divided by the input's width and height, is the anchor set.
    """

    def __init__(self, layout: AnchorLayout, offsets: Tuple[float, float] = (0.5, 0.5),
                 **kwargs):
        super().__init__(**kwargs)
        self.layout = layout
        self._offsets = tuple(offsets)

    @property
    def num_anchors(self) -> int:
        """Anchors per feature-map cell."""
        return self.layout.num_anchors

    def hybrid_forward(self, F, feature, image):  # pylint: disable=arguments-differ
        return F.broadcast_div(self.pixel_corners(F, feature), image_wh(F, image))

    def pixel_corners(self, F, feature):
        """The anchors as pixel corners of the input, ``(1, H*W*A, 4)``."""
        feature = self._shape_source(F, feature)
        centres = self._centres(F, feature)
        cell = feature.slice_axis(axis=2, begin=0, end=1).slice_axis(axis=3, begin=0, end=1)
        shapes = F.concat(*[F.contrib.MultiBoxPrior(cell, sizes=s, ratios=r, steps=(1.0, 1.0),
                                                    offsets=(0.0, 0.0))
                            for s, r in self.layout.shape_groups()], dim=1)
        pixels = F.broadcast_add(centres.reshape((0, -1, 1, 4)), shapes.reshape((0, 1, -1, 4)))
        return pixels.reshape((1, -1, 4))

    def centre_size(self, F, feature):
        """The anchors as GluonCV's train mode gives them, pixel ``(cx, cy, w, h)``
        ``(1, H*W*A, 4)``: the centres from ``MultiBoxPrior``, the sizes as GluonCV computes
        them (:meth:`AnchorLayout.pixel_sizes`), so that the values are its own."""
        centres = self._centres(F, self._shape_source(F, feature))
        centre = centres.slice_axis(axis=-1, begin=0, end=2).reshape((0, -1, 1, 2))
        one = F.ones_like(centre.slice_axis(axis=1, begin=0, end=1))  # (1, 1, 1, 2)
        sizes = F.concat(*[F.concat(one.slice_axis(axis=-1, begin=0, end=1) * width,
                                    one.slice_axis(axis=-1, begin=1, end=2) * height, dim=-1)
                           for width, height in self.layout.pixel_sizes()], dim=2)
        grid = F.concat(F.broadcast_add(centre, sizes * 0), F.broadcast_add(sizes, centre * 0),
                        dim=-1)
        return grid.reshape((1, -1, 4))

    @staticmethod
    def _shape_source(F, feature):
        # the anchors depend on the map's height and width only: a 1 x 1 x H x W slice cut off
        # from the gradient spares backward a zero gradient of every feature map (computed
        # through MultiBoxPrior and added to the real one) and the block a copy of the map
        return F.stop_gradient(feature.slice_axis(axis=0, begin=0, end=1)
                               .slice_axis(axis=1, begin=0, end=1))

    def _centres(self, F, feature):
        """``(1, H*W, 4)`` zero-size boxes at the cell centres, in pixels."""
        step = self.layout.step
        return F.contrib.MultiBoxPrior(feature, sizes=(0.0,), ratios=(1.0,),
                                       steps=(step, step), offsets=self._offsets)


def corner_anchors(anchors, height: int, width: int):
    """The train-mode anchors of an SSD (GluonCV's format: pixel ``(cx, cy, w, h)`` of a
    ``height x width`` input) as ``MultiBoxTarget`` takes them: normalized corners.

    Works on NumPy arrays and NDArrays ``(..., 4)``; NumPy is computed in float64 and
    returned in float32.
    """
    if isinstance(anchors, np.ndarray) or not hasattr(anchors, 'asnumpy'):
        a = np.asarray(anchors, np.float64)
        half = a[..., 2:] / 2
        corners = np.concatenate([a[..., :2] - half, a[..., :2] + half], axis=-1)
        return (corners / np.array([width, height] * 2)).astype(np.float32)
    import mxnet as mx
    centre = anchors.slice_axis(axis=-1, begin=0, end=2)
    half = anchors.slice_axis(axis=-1, begin=2, end=4) / 2
    scale = mx.nd.array([width, height] * 2, ctx=anchors.context)
    return mx.nd.broadcast_div(mx.nd.concat(centre - half, centre + half, dim=-1), scale)


def image_wh(F, image):
    """``(1, 1, 4)`` float tensor ``[W, H, W, H]`` of an NCHW batch, traceable in a graph."""
    hw = F.shape_array(image).slice_axis(axis=0, begin=2, end=4).astype('float32')
    wh = F.reverse(hw, axis=0)
    return F.tile(wh, reps=(2,)).reshape((1, 1, 4))


def anchors_per_head(net, height: int, width: int):
    """Anchors of each head of ``net`` for an input of ``height x width``.

    Returns
    -------
    list of (ndarray (n, 4), (rows, cols), anchors per cell)
        Normalized corners, computed by the network itself (so the counts are the model's).
    """
    import mxnet as mx
    from mxnet import autograd
    x = mx.nd.zeros((1, 3, height, width))
    with autograd.predict_mode():
        features = net.features(x)
    out = []
    for feature, generator in zip(features, net.anchor_generators):
        anchors = generator(feature, x).asnumpy()[0]
        out.append((anchors, tuple(feature.shape[2:]), generator.num_anchors))
    return out
