"""JPEG decoding by libjpeg-turbo's SIMD build, for the files where it gives OpenCV's pixels.

OpenCV's wheel decodes JPEGs with a libjpeg-turbo built without its SIMD code: 0.9 ms for a
300 x 300 image where `simplejpeg`'s build (the same library, with SIMD) takes 0.4 ms
(AMD EPYC, one core). The training loader runs on the cores the network trains on, so
decoding is part of every step. Both use libjpeg-turbo's accurate integer IDCT and fancy
upsampling, which its SIMD code reproduces exactly: the same pixels (tested on sampling
factors, progressive, restart markers, grayscale and odd sizes).

:func:`fast_decode` takes the files where that holds - YCbCr or grayscale JPEGs whose EXIF
(if any) does not ask for a rotation - and leaves every other file to OpenCV: other formats,
CMYK, EXIF orientations 2-8 (OpenCV applies them, libjpeg-turbo does not) and damaged files
(OpenCV decodes what it can of a truncated JPEG; its callers decide what that means).
"""
from __future__ import annotations

import struct
from typing import Iterator, Optional, Tuple

import numpy as np

try:
    import simplejpeg
except ImportError:  # an install without it (e.g. pip --no-deps) decodes with OpenCV
    simplejpeg = None

__all__ = ['fast_decode', 'exif_orientation', 'decoder', 'FAST_COLORSPACES']

#: JPEG colour spaces (as libjpeg-turbo's header reports them) decoded to OpenCV's pixels
FAST_COLORSPACES = ('YCbCr', 'Gray')

_START_OF_IMAGE = b'\xff\xd8'
_SOS, _EOI, _APP1 = 0xDA, 0xD9, 0xE1
#: markers without a length field (TEM, restart markers)
_STANDALONE = {0x01} | set(range(0xD0, 0xD8))
_EXIF_HEADER = b'Exif\0\0'
_ORIENTATION_TAG = 0x0112
_SHORT = 3


def _segments(data: bytes) -> Iterator[Tuple[int, bytes]]:
    """``(marker, payload)`` of the segments before the first scan; stops early (without
    error) on a malformed header, which the decoders then judge."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (_SOS, _EOI):
            return
        length = int.from_bytes(data[pos + 2:pos + 4], 'big')
        yield marker, data[pos + 4:pos + 2 + length]
        pos += 2 + length


def _tiff_orientation(tiff: bytes) -> Optional[int]:
    """The orientation tag of IFD0 of an EXIF TIFF block: 1 if absent, None if unreadable."""
    order = {b'II': '<', b'MM': '>'}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    magic, ifd = struct.unpack(order + 'HI', tiff[2:8])
    if magic != 42 or ifd + 2 > len(tiff):
        return None
    count, = struct.unpack(order + 'H', tiff[ifd:ifd + 2])
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        if entry + 12 > len(tiff):
            return None
        tag, kind = struct.unpack(order + 'HH', tiff[entry:entry + 4])
        if tag == _ORIENTATION_TAG:
            return struct.unpack(order + 'H', tiff[entry + 8:entry + 10])[0] \
                if kind == _SHORT else None
    return 1


def exif_orientation(data: bytes) -> Optional[int]:
    """EXIF orientation of a JPEG file's bytes (1: as stored, also without EXIF); None if an
    EXIF block cannot be read or there are several."""
    orientations = [_tiff_orientation(payload[len(_EXIF_HEADER):])
                    for marker, payload in _segments(data)
                    if marker == _APP1 and payload.startswith(_EXIF_HEADER)]
    if not orientations:
        return 1
    return orientations[0] if len(orientations) == 1 else None


def fast_decode(data: bytes) -> Optional[np.ndarray]:
    """HWC RGB uint8 pixels of a JPEG file's bytes, as OpenCV would decode them, or None where
    OpenCV must decode it (see the module's description)."""
    if simplejpeg is None or not data.startswith(_START_OF_IMAGE) or exif_orientation(data) != 1:
        return None
    try:
        if simplejpeg.decode_jpeg_header(data)[2] not in FAST_COLORSPACES:
            return None
        return simplejpeg.decode_jpeg(data, 'RGB')  # strict: a damaged file raises
    except ValueError:
        return None


def decoder() -> str:
    """Which library decodes JPEGs here, for ``ssd-zoo info``."""
    if simplejpeg is None:
        return ('OpenCV (simplejpeg is not installed; `pip install simplejpeg` decodes them '
                'about 2x faster, to the same pixels)')
    return 'libjpeg-turbo with SIMD (simplejpeg %s); OpenCV for the rest' % simplejpeg.__version__
