"""Host arrays handed to MXNet without an engine round trip: same values, private memory."""
import mxnet as mx
import numpy as np
import pytest

from ssd_zoo.train.transfer import to_device


@pytest.mark.parametrize('dtype', [None, 'float32', 'uint8'])
def test_values_and_dtype_equal_mx_nd_array(dtype):
    host = np.random.default_rng(0).integers(0, 200, (4, 6)).astype(np.float64)
    got = to_device(host, mx.cpu(), dtype)
    expected = mx.nd.array(host, dtype=dtype or host.dtype)
    assert got.dtype == expected.dtype and got.context == mx.cpu()
    np.testing.assert_array_equal(got.asnumpy(), expected.asnumpy())


def test_the_callers_array_stays_writable_and_independent():
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    view = host[1:]                      # a view of a larger array, as a split batch is
    got = to_device(view, mx.cpu())
    host[:] = -1                         # the caller reuses its buffer
    np.testing.assert_array_equal(got.asnumpy(), np.arange(4, 12).reshape(2, 4))
    assert host.flags.writeable


def test_another_device_gets_a_copy_there():
    got = to_device(np.ones((2, 2), np.float32), mx.cpu(1))
    assert got.context == mx.cpu(1)
    assert got.sum().asscalar() == 4
