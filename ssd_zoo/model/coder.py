"""The SSD box coder: ground-truth boxes to regression targets and predictions back to boxes.

Boxes are corners ``[x1, y1, x2, y2]``; offsets are the SSD paper's centre-size encoding,
each component divided by its variance (GluonCV's ``stds``, MXNet's ``variances``)::

    tx = (gx - ax) / aw / vx     tw = log(gw / aw) / vw      (x, y, w, h: centres and sides)

:meth:`BoxCoder.encode` computes it in float32 exactly as ``MultiBoxTarget``'s CPU kernel does
(same operations, same order, the C library's ``logf``), so the host targets equal the
operator's bit for bit. The decoding formula is written once (:func:`_corners`) against three
array back ends: NumPy, MXNet's ``F`` (NDArray or Symbol, for the Gluon decoder) and an ONNX
graph (for the exported detection step).
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Sequence, Tuple

import numpy as np

from ..defaults import VARIANCES

__all__ = ['BoxCoder']


def _c_logf():
    """The C library's ``logf``, which the kernel's ``std::log(float)`` calls: it is not
    correctly rounded, so NumPy's float32 or float64 log differ from it by one unit in the
    last place on some inputs. ``None`` where no C math library can be loaded."""
    name = ctypes.util.find_library('m')
    if name is None:
        return None
    logf = ctypes.CDLL(name).logf
    logf.restype, logf.argtypes = ctypes.c_float, [ctypes.c_float]
    return np.vectorize(logf, otypes=[np.float32])


_LOGF = _c_logf()


def _kernel_log(values: np.ndarray) -> np.ndarray:
    if _LOGF is None or not values.size:
        return np.log(values.astype(np.float64)).astype(np.float32)
    return _LOGF(values)


class _NumpyOps:
    """Array operations of :func:`_corners` on NumPy arrays ``(..., 4)``."""

    @staticmethod
    def halves(x):
        return x[..., :2], x[..., 2:]

    @staticmethod
    def scale(x, pair):
        return x * np.asarray(pair, np.float32)

    mul, add, sub, exp = np.multiply, np.add, np.subtract, np.exp

    @staticmethod
    def concat(a, b):
        return np.concatenate([a, b], axis=-1)


class _MXNetOps:
    """The same operations with MXNet's ``F`` (``mx.nd`` or ``mx.sym``), broadcasting."""

    def __init__(self, F):
        self.F = F

    def halves(self, x):
        F = self.F
        return (F.slice_axis(x, axis=-1, begin=0, end=2),
                F.slice_axis(x, axis=-1, begin=2, end=4))

    def scale(self, x, pair):
        if pair[0] == pair[1]:
            return x * float(pair[0])
        first, second = (self.F.slice_axis(x, axis=-1, begin=i, end=i + 1) for i in (0, 1))
        return self.F.concat(first * float(pair[0]), second * float(pair[1]), dim=-1)

    def mul(self, a, b):
        return self.F.broadcast_mul(a, b)

    def add(self, a, b):
        return self.F.broadcast_add(a, b)

    def sub(self, a, b):
        return self.F.broadcast_sub(a, b)

    def exp(self, x):
        return self.F.exp(x)

    def concat(self, a, b):
        return self.F.concat(a, b, dim=-1)


class _OnnxOps:
    """The same operations as nodes of an ONNX graph (``g``: the exporter's graph builder,
    with ``op`` and ``const``); NumPy operands become constants."""

    def __init__(self, g):
        self.g = g

    def _name(self, x):
        return self.g.const(x) if isinstance(x, np.ndarray) else x

    def _op(self, op_type, *inputs, **attrs):
        return self.g.op(op_type, [self._name(x) for x in inputs], **attrs)

    def halves(self, x):
        if isinstance(x, np.ndarray):
            return x[..., :2], x[..., 2:]
        return self.g.op('Split', [x, self.g.const([2, 2], dtype=np.int64)], 'split', outputs=2,
                         axis=-1)

    def scale(self, x, pair):
        return self._op('Mul', x, np.asarray(pair, np.float32))

    def mul(self, a, b):
        return self._op('Mul', a, b)

    def add(self, a, b):
        return self._op('Add', a, b)

    def sub(self, a, b):
        return self._op('Sub', a, b)

    def exp(self, x):
        return self._op('Exp', x)

    def concat(self, a, b):
        return self._op('Concat', a, b, axis=-1)


def _corners(ops, offsets, anchor_centre, anchor_side, variances):
    """THE decoding formula: centre = offset * var * anchor side + anchor centre; half side =
    exp(offset * var) * anchor side / 2; returned as corners."""
    shift, log_scale = ops.halves(offsets)
    centre = ops.add(ops.mul(ops.scale(shift, variances[:2]), anchor_side), anchor_centre)
    half = ops.mul(ops.exp(ops.scale(log_scale, variances[2:])), anchor_side / 2)
    return ops.concat(ops.sub(centre, half), ops.add(centre, half))


class BoxCoder:
    """Encode boxes against anchors and decode offsets back, with the given variances.

    Parameters
    ----------
    variances : sequence of 4 floats
        Divisors of the (x, y, w, h) offsets; SSD's ``(0.1, 0.1, 0.2, 0.2)`` by default.
    """

    def __init__(self, variances: Sequence[float] = VARIANCES):
        if len(variances) != 4 or any(v <= 0 for v in variances):
            raise ValueError('variances must be 4 positive numbers (x, y, w, h), got %r'
                             % (tuple(variances),))
        self.variances: Tuple[float, ...] = tuple(float(v) for v in variances)

    def __repr__(self) -> str:
        return 'BoxCoder(variances=%s)' % (self.variances,)

    def encode(self, anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Offsets ``(N, 4)`` float32 of ``boxes (N, 4)`` from ``anchors (N, 4)``, as
        ``MultiBoxTarget``'s ``AssignLocTargets`` computes them (bit for bit)."""
        half = np.float32(0.5)
        al, at, ar, ab = anchors.T
        gl, gt, gr, gb = boxes.T
        aw, ah, gw, gh = ar - al, ab - at, gr - gl, gb - gt
        vx, vy, vw, vh = (np.float32(v) for v in self.variances)
        return np.stack([(((gl + gr) * half - (al + ar) * half) / aw) / vx,
                         (((gt + gb) * half - (at + ab) * half) / ah) / vy,
                         _kernel_log(gw / aw) / vw, _kernel_log(gh / ah) / vh], axis=1)

    def decode_numpy(self, offsets: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """Corners of ``offsets (..., N, 4)`` against corner ``anchors (..., N, 4)``."""
        offsets, anchors = np.asarray(offsets, np.float32), np.asarray(anchors, np.float32)
        side = anchors[..., 2:] - anchors[..., :2]
        return _corners(_NumpyOps, offsets, anchors[..., :2] + side / 2, side, self.variances)

    def decode(self, F, offsets, anchors):
        """Corners ``(B, N, 4)`` of ``offsets (B, N, 4)`` against corner ``anchors (1, N, 4)``
        (``F`` is ``mx.nd`` or ``mx.sym``: usable inside ``hybrid_forward``)."""
        ops = _MXNetOps(F)
        top_left, bottom_right = ops.halves(anchors)
        side = bottom_right - top_left
        return _corners(ops, offsets, top_left + side / 2, side, self.variances)

    def decode_onnx(self, g, offsets: str, anchors: np.ndarray) -> str:
        """ONNX nodes decoding the tensor named ``offsets (B, N, 4)`` against constant corner
        ``anchors (N, 4)``; returns the name of the corners ``(B, N, 4)``."""
        anchors = np.asarray(anchors, np.float32)[None]
        side = anchors[..., 2:] - anchors[..., :2]
        return _corners(_OnnxOps(g), offsets, anchors[..., :2] + side / 2, side,
                        self.variances)
