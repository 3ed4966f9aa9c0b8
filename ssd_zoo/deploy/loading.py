"""Load a detector from what a user has - a training checkpoint, a symbol export (FP32,
fixed-size, INT8, BF16, uint8-input), an ONNX file or a zoo name - and run it on images.

Every source gives a :class:`Detector`: the network, its class names, its input size and the
input format it takes, and ``detect(image or path)`` returning boxes in that image's pixels.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple, Union

import mxnet as mx
import numpy as np

from ..data.base import read_image
from ..data.preprocess import normalize_batch
from ..data.transforms import KeepAspectTransform, ValTransform
from ..model.spec import input_normalization
from .model_info import NORMALIZED_INPUT, UINT8_INPUT, read_model_info

__all__ = ['Detector', 'Detections', 'load_detector', 'network_of', 'as_numpy']


def as_numpy(array) -> np.ndarray:
    """An NDArray or array-like as a NumPy array."""
    return array.asnumpy() if isinstance(array, mx.nd.NDArray) else np.asarray(array)


@dataclass
class Detections:
    """The detections of one image above a score: ``ids (K,)``, ``scores (K,)``, ``boxes
    (K, 4)`` corners in the image's own pixels, best first."""

    ids: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Detector:
    """A network with what it was made for.

    Attributes
    ----------
    net : callable
        ``net(x) -> (ids, scores, boxes)`` on a batch in ``input_format``.
    classes : list of str
        Foreground class names (``ids`` index them).
    data_shape : int
        The input side the model was made for.
    source : str
        Where it was loaded from.
    network : str
        Backbone name.
    input_format : str
        ``NORMALIZED_INPUT`` (float NCHW) or ``UINT8_INPUT`` (exported with preprocessing).
    fixed_size : bool
        The graph takes only ``data_shape x data_shape`` inputs.
    """

    net: Callable
    classes: List[str]
    data_shape: int
    source: str
    network: str = ''
    input_format: str = NORMALIZED_INPUT
    fixed_size: bool = False
    info: dict = field(default_factory=dict)

    def provenance(self) -> dict:
        """The dataset the model was trained on (``dataset``, ``dataset_root``), as its
        checkpoint or export recorded it; exporters record it again."""
        return {k: self.info[k] for k in ('dataset', 'dataset_root') if self.info.get(k)}

    def normalization(self) -> dict:
        """The ``mean`` and ``std`` the model's input is normalized with (its spec's)."""
        return input_normalization(self.info or self.net)

    def predict(self, images: np.ndarray, ctx: Optional[mx.Context] = None
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, scores, boxes)`` NumPy batches for uint8 ``(B, H, W, 3)`` RGB images already
        at the network's input size (as the validation loaders yield them)."""
        if self.input_format == UINT8_INPUT:
            x = mx.nd.array(images, dtype='uint8', ctx=ctx or mx.cpu())
        else:
            x = normalize_batch(images, ctx=ctx, **self.normalization())
        ids, scores, boxes = (as_numpy(o) for o in self.net(x))
        return ids, scores, boxes

    def input_transform(self, keep_aspect: bool = False, max_size: Optional[int] = None):
        """The resize of evaluation and :meth:`detect`: a square of ``data_shape`` (a photo's
        objects squashed to it), or with ``keep_aspect`` the short side ``data_shape`` and
        the long side at most ``max_size`` (:func:`ssd_zoo.data.transforms.aspect_size`).

        Raises
        ------
        ValueError
            ``keep_aspect`` on a fixed-size graph (fixed-size, INT8/BF16 or ONNX exports).
        """
        if not keep_aspect:
            return ValTransform(self.data_shape)
        if self.fixed_size:
            raise ValueError('--keep-aspect needs a model that takes any input size; %s takes '
                             'only %dx%d (a fixed-size, INT8/BF16 or ONNX export): use the '
                             'checkpoint or a plain symbol export, or drop --keep-aspect'
                             % (self.source, self.data_shape, self.data_shape))
        smallest = getattr(self.net, 'min_input_size', None)  # an SSD block; exports say it
        return KeepAspectTransform(self.data_shape, max_size, smallest() if smallest else
                                   int(self.info.get('min_input_size', 0)))

    def detect(self, image: Union[str, np.ndarray], thresh: float = 0.0,
               ctx: Optional[mx.Context] = None, keep_aspect: bool = False,
               max_size: Optional[int] = None) -> Detections:
        """Detections of one image (a path, or an HWC RGB uint8 array) with score >=
        ``thresh``, boxes in the image's own pixels.

        The image is resized as :meth:`input_transform` says (a ``data_shape`` square by
        default, as in evaluation; its own aspect ratio with ``keep_aspect``), and the boxes
        scaled back to its width and height.
        """
        if isinstance(image, str):
            image = read_image(image)
        height, width = image.shape[:2]
        transform = self.input_transform(keep_aspect, max_size)
        resized, _ = transform(image, np.zeros((0, 6), np.float32))
        ids, scores, boxes = (a[0] for a in self.predict(resized[None], ctx))
        keep = (ids[:, 0] >= 0) & (scores[:, 0] >= thresh)
        scale = np.array([width / resized.shape[1], height / resized.shape[0]] * 2, np.float32)
        return Detections(ids[keep, 0].astype(int), scores[keep, 0], boxes[keep] * scale)


def load_detector(checkpoint: Optional[str] = None, symbol: Optional[str] = None,
                  model: Optional[str] = None, root: Optional[str] = None,
                  ctx: Optional[mx.Context] = None, onnx: Optional[str] = None,
                  classes: Optional[List[str]] = None) -> Detector:
    """A :class:`Detector` from exactly one source.

    Parameters
    ----------
    checkpoint : str
        Training checkpoint prefix, e.g. ``runs/x/best``.
    symbol : str
        Export prefix, e.g. ``model/ssd`` (any export of :mod:`ssd_zoo.deploy`).
    model : str
        Zoo name; weights from ``root`` (GluonCV's file names).
    onnx : str
        An exported ``.onnx`` file, run with onnxruntime.
    classes : list of str, optional
        The classes of a ``custom`` zoo model (its weights file was trained for them).

    Raises
    ------
    ValueError
        Not exactly one source.
    FileNotFoundError
        The model or its description is missing (the message says which, and how to fix it).
    """
    chosen = [s for s in (checkpoint, symbol, model, onnx) if s]
    if len(chosen) != 1:
        raise ValueError('give exactly one of a checkpoint, an exported symbol or ONNX file, '
                         'or a zoo model')
    ctx = ctx or mx.cpu()
    if onnx:
        return _from_onnx(onnx)
    if model:
        return _from_zoo(model, root, ctx, classes)
    if symbol:
        return _from_symbol(symbol, ctx)
    return _from_checkpoint(checkpoint, ctx)


def _from_onnx(path: str) -> Detector:
    from .onnx_export import OnnxDetector
    if not os.path.isfile(path):
        raise FileNotFoundError('ONNX file %s is missing' % path)
    if not path.endswith('.onnx'):
        raise ValueError('--onnx %s: not an .onnx file; export one with scripts/export_ssd.py '
                         '--format onnx (a symbol export loads with --symbol PREFIX)' % path)
    info = read_model_info(os.path.splitext(path)[0])
    return Detector(OnnxDetector(path), info['classes'], info['data_shape'], path,
                    info.get('network', ''), fixed_size=True, info=info)


def _from_zoo(name: str, root: Optional[str], ctx, classes=None) -> Detector:
    from ..model.zoo import get_model, lookup
    net = get_model(name, pretrained=True, root=root, ctx=ctx, classes=classes)
    net.hybridize()
    return Detector(net, net.classes, net.base_size, name, lookup(name)[0].backbone)


def network_of(info: dict):
    """The untrained network a checkpoint's model description describes: rebuilt from its
    recorded spec, or (checkpoints written before ssd_zoo 0.3) from ``--network`` and the
    data shape."""
    if info.get('spec'):
        from ..model.spec import SSDSpec
        from ..model.ssd import build_ssd
        return build_ssd(SSDSpec.from_dict(info['spec']), info['classes'])
    from ..model.zoo import model_for_network
    return model_for_network(info['network'], info['data_shape'], info['classes'],
                             pretrained_base=False)


def _from_symbol(prefix: str, ctx) -> Detector:
    from .export import import_block
    info = read_model_info(prefix)
    epoch = info.get('epoch', 0)
    params = '%s-%04d.params' % (prefix, epoch)
    for path in ('%s-symbol.json' % prefix, params):
        if not os.path.isfile(path):
            raise FileNotFoundError('%s is missing (the export at %s is incomplete: export it '
                                    'again)' % (path, prefix))
    return Detector(import_block(prefix, epoch, ctx=ctx), info['classes'], info['data_shape'],
                    prefix, info.get('network', ''), info.get('input', NORMALIZED_INPUT),
                    bool(info.get('fixed_size')), info)


def _from_checkpoint(prefix: str, ctx) -> Detector:
    from ..model.weights import load_weights
    info = read_model_info(prefix)
    if not os.path.isfile(prefix + '.params'):
        raise FileNotFoundError('%s.params is missing (the checkpoint at %s is incomplete)'
                                % (prefix, prefix))
    net = network_of(info)
    load_weights(net, prefix + '.params', ctx)
    net.hybridize()
    return Detector(net, list(info['classes']), info['data_shape'], prefix, info['network'],
                    info=info)
