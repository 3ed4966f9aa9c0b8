"""JPEGs decoded by libjpeg-turbo's SIMD build give exactly OpenCV's pixels, and every file
where that would not hold (EXIF rotations, CMYK, damage, other formats) still goes to OpenCV."""
import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from ssd_zoo.data import jpeg, read_image
from ssd_zoo.data.base import decode_image


def photo(height, width, seed=0):
    """Smooth gradients plus noise: every DCT coefficient and both chroma planes busy."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                      (x + y) % 256], -1).astype(np.uint8)
    noise = np.random.default_rng(seed).integers(0, 40, (height, width, 3), dtype=np.uint8)
    return cv2.add(cv2.GaussianBlur(image, (5, 5), 0), noise)


def opencv_rgb(data):
    """The reference: OpenCV's own decoding (EXIF orientation applied), as RGB."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def encode(image, **options):
    params = []
    for name, value in options.items():
        params += [getattr(cv2, 'IMWRITE_JPEG_' + name.upper()), value]
    return cv2.imencode('.jpg', image, params)[1].tobytes()


def with_exif(image, orientation):
    """A JPEG (written by Pillow, little-endian EXIF) whose EXIF has ``orientation``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, 'JPEG', exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def big_endian_exif_jpeg(data, orientation):
    """``data`` with an APP1 EXIF block in Motorola byte order carrying ``orientation``."""
    ifd = struct.pack('>H', 1) + struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) \
        + struct.pack('>I', 0)
    tiff = b'MM' + struct.pack('>HI', 42, 8) + ifd
    payload = b'Exif\0\0' + tiff
    return data[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + data[2:]


SAMPLINGS = {'4:4:4': 0x111111, '4:2:2': 0x211111, '4:2:0': 0x221111, '4:4:0': 0x121111,
             '4:1:1': 0x411111}


@pytest.mark.parametrize('size', [(300, 300), (333, 251), (17, 9)])
@pytest.mark.parametrize('sampling', sorted(SAMPLINGS))
@pytest.mark.parametrize('progressive', [0, 1])
def test_fast_decoding_gives_opencvs_pixels(size, sampling, progressive):
    data = encode(photo(*size), quality=92, sampling_factor=SAMPLINGS[sampling],
                  progressive=progressive, rst_interval=3 if progressive else 0)
    fast = jpeg.fast_decode(data)
    assert fast is not None, 'a plain YCbCr JPEG must take the fast path'
    np.testing.assert_array_equal(fast, opencv_rgb(data))


def test_grayscale_jpegs_decode_fast_to_opencvs_rgb():
    data = encode(photo(40, 50)[:, :, 1], quality=75)
    fast = jpeg.fast_decode(data)
    assert fast is not None and fast.shape == (40, 50, 3)
    np.testing.assert_array_equal(fast, opencv_rgb(data))


@pytest.mark.parametrize('orientation', [3, 6, 8])
def test_an_exif_rotation_is_left_to_opencv_which_applies_it(tmp_path, orientation):
    data = with_exif(photo(40, 60), orientation)
    assert jpeg.exif_orientation(data) == orientation
    assert jpeg.fast_decode(data) is None
    path = tmp_path / 'rotated.jpg'
    path.write_bytes(data)
    image = read_image(str(path))
    assert image.shape == ((60, 40, 3) if orientation in (6, 8) else (40, 60, 3))
    np.testing.assert_array_equal(image, opencv_rgb(data))


def test_exif_without_rotation_decodes_fast():
    data = with_exif(photo(40, 60), 1)
    np.testing.assert_array_equal(jpeg.fast_decode(data), opencv_rgb(data))


def test_exif_orientation_reads_both_byte_orders_and_distrusts_odd_blocks():
    plain = encode(photo(8, 8))
    assert jpeg.exif_orientation(plain) == 1  # no EXIF at all
    assert jpeg.exif_orientation(big_endian_exif_jpeg(plain, 6)) == 6
    assert jpeg.exif_orientation(big_endian_exif_jpeg(plain, 1)) == 1
    twice = big_endian_exif_jpeg(big_endian_exif_jpeg(plain, 1), 1)
    assert jpeg.exif_orientation(twice) is None  # which one would OpenCV use? leave it to it
    broken = plain[:2] + b'\xff\xe1\x00\x0cExif\0\0XX\0\0' + plain[2:]
    assert jpeg.exif_orientation(broken) is None
    assert jpeg.fast_decode(broken) is None


def test_cmyk_truncated_and_non_jpeg_files_are_left_to_opencv(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(photo(30, 40)).convert('CMYK').save(buffer, 'JPEG')
    truncated = encode(photo(300, 300))[:5000]
    png = cv2.imencode('.png', photo(30, 40))[1].tobytes()
    for name, data in (('cmyk.jpg', buffer.getvalue()), ('truncated.jpg', truncated),
                       ('png.jpg', png)):
        assert jpeg.fast_decode(data) is None, name
        path = tmp_path / name
        path.write_bytes(data)
        np.testing.assert_array_equal(read_image(str(path)), opencv_rgb(data), err_msg=name)


def test_without_simplejpeg_opencv_decodes_everything(monkeypatch):
    data = encode(photo(30, 40))
    monkeypatch.setattr(jpeg, 'simplejpeg', None)
    assert jpeg.fast_decode(data) is None
    np.testing.assert_array_equal(decode_image(data), opencv_rgb(data))
    assert 'pip install simplejpeg' in jpeg.decoder()


def test_fast_decoding_is_what_the_loaders_read(tmp_path, monkeypatch):
    path = tmp_path / 'a.jpg'
    path.write_bytes(encode(photo(50, 70)))
    calls = []
    original = jpeg.simplejpeg.decode_jpeg
    monkeypatch.setattr(jpeg.simplejpeg, 'decode_jpeg',
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    read_image(str(path))
    assert calls == [1]
