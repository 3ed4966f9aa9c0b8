"""Host arrays to the device without waiting for the engine.

``mx.nd.array`` copies through ``SyncCopyFromCPU``, which first waits until the engine has
run every operation already queued ahead of a no-op it pushes: in the training step each of
the batch's uploads (images, class and box targets, negatives wanted) waited for the forward
pass's current segment, tens of milliseconds each. On a CPU the step's arrays are handed to
MXNet instead: a private host copy through DLPack, no engine operation.
"""
from __future__ import annotations

from typing import Optional

import mxnet as mx
import numpy as np

__all__ = ['to_device']


def to_device(array: np.ndarray, ctx: mx.Context, dtype: Optional[str] = None) -> mx.nd.NDArray:
    """``array`` (NumPy) as an NDArray on ``ctx``, of ``dtype`` (default: its own).

    On a CPU the NDArray takes a private copy's memory without an engine round trip (the
    copy, made here, is what the NDArray owns: the caller's array stays writable and
    independent); elsewhere it is ``mx.nd.array``.
    """
    dtype = np.dtype(dtype or array.dtype)
    if ctx != mx.cpu():  # DLPack hands over host memory as cpu(0)
        return mx.nd.array(array, ctx=ctx, dtype=dtype)
    own = np.array(array, dtype=dtype, order='C', copy=True)
    return mx.nd.from_numpy(own, zero_copy=True)
