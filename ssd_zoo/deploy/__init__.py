"""Shipping a trained SSD: symbol JSON (any size, fixed size, uint8 input), ONNX with the
detection step, INT8 and BF16 for oneDNN, checks that two runtimes agree, and loading any of
them back as a :class:`Detector`.

Every exporter writes ``PREFIX-model.json`` (classes, input size and format) beside its
files, so :func:`load_detector` - and ``eval_ssd.py`` / ``demo_ssd.py`` - read every export
without extra steps.
"""
from .agreement import detection_mismatches, same_box, tie_groups
from .export import FixedSizeSSD, WithPreprocessing, export_model, import_block, load_module
from .exportable import check_exportable, network_context
from .loading import Detections, Detector, load_detector
from .model_info import NORMALIZED_INPUT, UINT8_INPUT, read_model_info, write_model_info
from .quantize import (
    BF16_UNAVAILABLE,
    CALIB_MODES,
    Converted,
    bf16_supported,
    calibration_batches,
    quantize_int8,
    to_bfloat16,
)

__all__ = ['export_model', 'import_block', 'load_module', 'FixedSizeSSD', 'WithPreprocessing',
           'check_exportable', 'network_context', 'Detector', 'Detections', 'load_detector',
           'read_model_info', 'write_model_info', 'NORMALIZED_INPUT', 'UINT8_INPUT',
           'quantize_int8', 'to_bfloat16', 'bf16_supported', 'calibration_batches', 'Converted',
           'CALIB_MODES', 'BF16_UNAVAILABLE', 'detection_mismatches', 'same_box', 'tie_groups',
           'export_onnx', 'OnnxDetector']


def __getattr__(name):
    # onnx and onnxruntime are an optional extra: import them only when asked for
    if name in ('export_onnx', 'OnnxDetector'):
        from . import onnx_export
        return getattr(onnx_export, name)
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
