"""The SSD network: feature extractor + per-head predictors + anchors + decoder, and
:func:`build_ssd`, which builds one from its description
(:class:`~ssd_zoo.model.spec.SSDSpec`)."""
from __future__ import annotations

import logging
import warnings
from typing import Dict, List, Optional, Sequence, Union

import mxnet as mx
from mxnet import autograd
from mxnet.base import MXNetError
from mxnet.gluon import HybridBlock, nn

from .. import compat
from ..defaults import NMS_THRESH, NMS_TOPK, POST_NMS, SCORE_THRESH, VARIANCES, layer_init
from .anchors import AnchorGenerator, AnchorLayout, anchor_layouts
from .decode import Decoder
from .registry import REGISTRY
from .spec import DecodeSpec, HeadSpec, SSDSpec

__all__ = ['SSD', 'TrainingHeads', 'build_ssd', 'norm_options']

log = logging.getLogger(__name__)


class SSD(HybridBlock):
    """Single-shot multibox detector (Liu et al., 2016) on a multi-output feature extractor.

    Parameters
    ----------
    features : HybridBlock
        Returns one feature map per head, shallow to deep.
    layouts : sequence of AnchorLayout
        Anchor layout of each head.
    classes : sequence of str
        Foreground class names.
    base_size : int
        Training input side; inputs of any size at least :meth:`min_input_size` work.
    predictor_kernel : int
        Kernel side of the predictor convolutions (``head`` overrides it).
    nms_thresh, nms_topk, post_nms, nms_mode
        Decoding settings, see :meth:`set_nms`.
    network_name : str
        The backbone's name as the training scripts take it (``--network``); recorded in the
        descriptions of exported models.
    head : HeadSpec, optional
        The predictors' kind (a registered ``head``) and kernel.
    score_thresh : float
        Decoding drops candidates of lower class probability.
    variances : sequence of 4 floats
        The box coder's.
    spec : SSDSpec, optional
        The description the network was built from (:func:`build_ssd` gives it); recorded by
        checkpoints and exports.

    Notes
    -----
    Under ``autograd.train_mode()`` the network returns what GluonCV's SSD returns:
    ``cls_preds (B, N, C+1)``, ``box_preds (B, N, 4)`` and ``anchors (1, N, 4)`` as pixel
    ``(cx, cy, w, h)`` of the input (:func:`~ssd_zoo.model.anchors.corner_anchors` turns them
    into the normalized corners ``MultiBoxTarget`` takes; :meth:`heads` gives those directly);
    otherwise ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` in input pixels.
    A hybridized network re-traces when the mode changes, so it never returns the other
    mode's outputs.
    """

    def __init__(self, features: HybridBlock, layouts: Sequence[AnchorLayout],
                 classes: Sequence[str], base_size: int, predictor_kernel: int = 3,
                 nms_thresh: float = NMS_THRESH, nms_topk: int = NMS_TOPK,
                 post_nms: int = POST_NMS, nms_mode: str = 'multibox', network_name: str = '',
                 head: Optional[HeadSpec] = None, score_thresh: float = SCORE_THRESH,
                 variances: Sequence[float] = VARIANCES, spec: Optional[SSDSpec] = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.classes = list(classes)
        self.base_size = base_size
        #: the backbone name (as ``--network`` takes it), recorded in exported descriptions
        self.network_name = network_name
        self._head = head or HeadSpec('conv', predictor_kernel)
        self._predictor = REGISTRY.get('head', self._head.kind).load()
        self._variances = tuple(variances)
        self._spec = spec
        self._traced_training: Optional[bool] = None
        self._min_size: Optional[int] = None
        with self.name_scope():
            self.features = features
            self.class_predictors = nn.HybridSequential()
            self.box_predictors = nn.HybridSequential()
            self.anchor_generators = nn.HybridSequential()
            for layout in layouts:
                self.anchor_generators.add(AnchorGenerator(layout))
                self.class_predictors.add(
                    self._predictor(layout.num_anchors * (self.num_classes + 1),
                                    self._head.kernel))
                self.box_predictors.add(self._predictor(layout.num_anchors * 4,
                                                        self._head.kernel))
        self.set_nms(nms_thresh, nms_topk, post_nms, nms_mode, score_thresh)

    @property
    def num_classes(self) -> int:
        """Number of foreground classes."""
        return len(self.classes)

    @property
    def spec(self) -> Optional[SSDSpec]:
        """The model description (with the current decoding settings); None for an SSD
        assembled by hand from blocks."""
        if self._spec is None:
            return None
        return self._spec.replace(decoding=DecodeSpec(**self.nms_settings))

    @property
    def layouts(self) -> List[AnchorLayout]:
        """Anchor layout of every head."""
        return [gen.layout for gen in self.anchor_generators]

    def set_nms(self, nms_thresh: float = NMS_THRESH, nms_topk: int = NMS_TOPK,
                post_nms: int = POST_NMS, mode: str = 'per_class',
                score_thresh: float = SCORE_THRESH) -> None:
        """Set how predictions are decoded into detections.

        Called as GluonCV's scripts call it (``set_nms(0.45, 400)``) it gives GluonCV's
        decoding; a network is built with its spec's mode (``'multibox'`` for the zoo rows),
        which ``set_nms(..., mode='multibox')`` keeps.

        Parameters
        ----------
        nms_thresh : float
            IoU above which the lower-scored box is suppressed; <= 0 or >= 1 disables NMS.
        nms_topk : int
            Boxes considered by NMS (best first); -1 for all.
        post_nms : int
            Detections returned per image (``K``); -1 for all.
        mode : str
            ``'per_class'``: GluonCV's per-class candidates and NMS (identical to GluonCV);
            ``'multibox'``: MXNet's ``MultiBoxDetection``, one class per anchor (faster).
        score_thresh : float
            Candidates of lower class probability are dropped before NMS.
        """
        compat.clear_cached_graph(self)
        self.nms_settings = dict(nms_thresh=nms_thresh, nms_topk=nms_topk, post_nms=post_nms,
                                 mode=mode, score_thresh=score_thresh)
        with self.name_scope():
            self.decoder = Decoder(self.num_classes, mode, nms_thresh, nms_topk, post_nms,
                                   score_thresh, self._variances)

    def reset_class(self, classes: Sequence[str],
                    reuse_weights: Union[None, Dict, Sequence[str]] = None) -> None:
        """Replace the classes, rebuilding the class predictors (as GluonCV's ``reset_class``).

        Parameters
        ----------
        classes : sequence of str
            The new foreground classes.
        reuse_weights : dict or list, optional
            ``{new: old}`` by name or index, or a list of names kept from the old classes; those
            classes (and the background) keep their trained predictor weights.
        """
        old_classes, new_classes = self.classes, list(classes)
        mapping = _class_mapping(old_classes, new_classes, reuse_weights)
        compat.clear_cached_graph(self)
        old_predictors = list(self.class_predictors)
        self.classes = new_classes
        deferred_ctx = None
        with self.name_scope():
            self.class_predictors = nn.HybridSequential(prefix=self.class_predictors.prefix)
            for old, gen in zip(old_predictors, self.anchor_generators):
                old_conv = old.predictor
                in_channels = old_conv.weight.shape[1]
                new = self._predictor(gen.num_anchors * (len(new_classes) + 1),
                                      self._head.kernel, in_channels=in_channels,
                                      prefix=old.prefix)
                if compat.has_value(old_conv.weight):
                    ctx = old_conv.weight.list_ctx()
                    new.initialize(ctx=ctx)
                    for old_p, new_p in ((old_conv.weight, new.predictor.weight),
                                         (old_conv.bias, new.predictor.bias)):
                        new_p.set_data(_remap_rows(old_p.data(), new_p.data(), mapping,
                                                   len(old_classes) + 1, len(new_classes) + 1))
                elif not compat.is_uninitialized(old_conv.weight):
                    # initialize() was called but no forward yet: the new predictor is
                    # initialized the same deferred way (GluonCV's reset_class allows this)
                    deferred_ctx = old_conv.weight.list_ctx()
                self.class_predictors.add(new)
        if deferred_ctx is not None:
            self.initialize(ctx=deferred_ctx)
        self.set_nms(**self.nms_settings)

    def load_parameters(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source='current'):
        """Load an ssd_zoo or GluonCV ``save_parameters`` file (Gluon's signature).

        With the defaults the file must fit exactly, GluonCV's stored anchors aside
        (:func:`ssd_zoo.model.weights.load_weights`: mismatches are named, the class count
        explained); ``allow_missing``, ``ignore_extra`` or ``cast_dtype`` take Gluon's path.
        """
        if allow_missing or ignore_extra or cast_dtype:
            super().load_parameters(filename, ctx, allow_missing, ignore_extra, cast_dtype,
                                    dtype_source)
            return
        from .weights import load_weights
        load_weights(self, filename, ctx)

    def save_params(self, filename):
        """Deprecated alias of :meth:`save_parameters`, as on GluonCV's models (Gluon's own
        ``save_params`` fails on an SSD: its backbone's parameters have other prefixes)."""
        warnings.warn('save_params is deprecated; use save_parameters', DeprecationWarning,
                      stacklevel=2)
        self.save_parameters(filename)

    def load_params(self, filename, ctx=None, allow_missing=False, ignore_extra=False):
        """Deprecated alias of :meth:`load_parameters`, as on GluonCV's models."""
        warnings.warn('load_params is deprecated; use load_parameters', DeprecationWarning,
                      stacklevel=2)
        self.load_parameters(filename, ctx, allow_missing, ignore_extra)

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """Initialize the parameters that have no value yet (e.g. not the loaded backbone).

        ``init`` defaults to the SSD convention (Xavier, gaussian, fan-out, magnitude 2) for
        weights; BatchNorm statistics, scales, shifts and biases get their usual constants by
        name (the extra layers traced from symbols carry the weights' initializer, which would
        otherwise reach their 1-D BatchNorm vectors and fail).
        """
        init = init or layer_init()
        fresh = set(self.uninitialized())
        for name, param in self.collect_params().items():
            if name in fresh or force_reinit:
                param.initialize(init=_init_by_name(name), default_init=init, ctx=ctx,
                                 force_reinit=force_reinit)

    def uninitialized(self) -> List[str]:
        """Names of parameters with no value and no deferred initialization pending."""
        return [name for name, p in self.collect_params().items() if compat.is_uninitialized(p)]

    def min_input_size(self) -> int:
        """Smallest input side (pixels) for which every head still has a feature map."""
        if self._min_size is None:
            self._min_size = _smallest_valid_side(self, self.base_size)
        return self._min_size

    def forward(self, x, *args):  # pylint: disable=arguments-differ
        training = autograd.is_training()
        if compat.is_hybridized(self) and self._traced_training is not None \
                and self._traced_training != training:
            compat.clear_cached_graph(self)  # one cached graph per mode; trace the other afresh
        self._traced_training = training
        if isinstance(x, mx.nd.NDArray):
            self._check_input(x)
        return super().forward(x, *args)

    def _check_input(self, x) -> None:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError('SSD expects a batch of RGB images (B, 3, H, W), got shape %s'
                             % (x.shape,))
        height, width = x.shape[2:]
        if min(height, width) < self.base_size and min(height, width) < self.min_input_size():
            raise ValueError('input %dx%d (HxW) is too small for this SSD: each side must be at '
                             'least %d pixels (its base size is %d)'
                             % (height, width, self.min_input_size(), self.base_size))

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        if autograd.is_training():  # GluonCV's train-mode outputs, anchors in its format
            return self.heads(F, x, anchor_format='centre_size')
        cls_preds, box_preds, anchors = self.heads(F, x)
        return self.decoder(cls_preds, box_preds, anchors, x)

    def heads(self, F, x, anchor_format: str = 'corners'):
        """The raw predictions: ``cls_preds (B, N, C+1)``, ``box_preds (B, N, 4)``, ``anchors
        (1, N, 4)``; the anchors as normalized corners (``MultiBoxTarget``'s and
        ``MultiBoxDetection``'s format), or with ``anchor_format='centre_size'`` as GluonCV's
        train mode gives them, pixel ``(cx, cy, w, h)`` of the input. Callable from another
        block's ``hybrid_forward`` (export wrappers)."""
        features = self.features(x)
        if len(features) != len(self.anchor_generators):
            raise ValueError('the feature extractor returns %d maps but the SSD has %d heads'
                             % (len(features), len(self.anchor_generators)))
        cls_preds = [F.flatten(F.transpose(pred(f), (0, 2, 3, 1)))
                     for f, pred in zip(features, self.class_predictors)]
        box_preds = [F.flatten(F.transpose(pred(f), (0, 2, 3, 1)))
                     for f, pred in zip(features, self.box_predictors)]
        cls_preds = F.concat(*cls_preds, dim=1).reshape((0, -1, self.num_classes + 1))
        box_preds = F.concat(*box_preds, dim=1).reshape((0, -1, 4))
        if anchor_format == 'centre_size':
            anchors = [gen.centre_size(F, f) for f, gen in zip(features, self.anchor_generators)]
            return cls_preds, box_preds, F.concat(*anchors, dim=1)
        anchors = [gen(f, x) for f, gen in zip(features, self.anchor_generators)]
        return cls_preds, box_preds, F.concat(*anchors, dim=1)


class TrainingHeads(HybridBlock):
    """``net``'s training outputs with the anchors as normalized corners, the format
    ``MultiBoxTarget`` takes: ssd_zoo's own training path, an explicit call beside the
    train-mode output (GluonCV's pixel centre-size anchors). It shares ``net``'s parameters
    and, hybridized, traces them into one graph of its own.
    """

    def __init__(self, net: SSD, **kwargs):
        super().__init__(**kwargs)
        self.net = net

    def hybrid_forward(self, F, x):  # pylint: disable=arguments-differ
        return self.net.heads(F, x)


_CONSTANT_INITS = (('gamma', 'ones'), ('beta', 'zeros'), ('running_mean', 'zeros'),
                   ('running_var', 'ones'), ('moving_mean', 'zeros'), ('moving_var', 'ones'),
                   ('bias', 'zeros'))


def _init_by_name(name: str):
    """The constant initializer of a vector parameter, by its name; None for weights."""
    for suffix, init in _CONSTANT_INITS:
        if name.endswith(suffix):
            return init
    return None


def _smallest_valid_side(net: SSD, upper: int) -> int:
    """Binary search of the smallest square input whose shapes infer (no computation)."""
    with autograd.predict_mode():
        symbol = net(mx.sym.var('data'))
    symbol = mx.sym.Group(list(symbol))

    def valid(side):
        try:
            _, shapes, _ = symbol.infer_shape_partial(data=(1, 3, side, side))
            return all(s and all(d > 0 for d in s[1:]) for s in shapes)
        except MXNetError:
            return False

    low, high = 1, upper
    while low < high:
        mid = (low + high) // 2
        if valid(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _class_mapping(old: Sequence[str], new: Sequence[str], reuse) -> Dict[int, int]:
    """``{new index: old index}`` from GluonCV-style ``reuse_weights``."""
    if reuse is None:
        return {}

    def index(value, names, which):
        if isinstance(value, str):
            if value not in names:
                raise ValueError('%r is not one of the %s classes %s' % (value, which, list(names)))
            return names.index(value)
        if not 0 <= value < len(names):
            raise ValueError('class index %d is out of range for the %d %s classes'
                             % (value, len(names), which))
        return value

    if isinstance(reuse, dict):
        return {index(k, new, 'new'): index(v, old, 'old') for k, v in reuse.items()}
    missing = [name for name in reuse if name not in old or name not in new]
    if missing:
        raise ValueError('reuse_weights names %s must be both old classes %s and new classes %s'
                         % (missing, list(old), list(new)))
    return {new.index(name): old.index(name) for name in reuse}


def _remap_rows(old, new, mapping, old_stride, new_stride):
    """Copy the background row and the mapped class rows of every anchor."""
    new = new.copy()
    new[0::new_stride] = old[0::old_stride]
    for new_idx, old_idx in mapping.items():
        new[new_idx + 1::new_stride] = old[old_idx + 1::old_stride]
    return new


def norm_options(norm_layer=None, norm_kwargs: Optional[dict] = None) -> dict:
    """The backbone-constructor arguments of GluonCV's ``norm_layer`` / ``norm_kwargs``."""
    if norm_layer is None:
        if norm_kwargs:
            raise ValueError('norm_kwargs=%r needs a norm_layer (e.g. '
                             'gluon.contrib.nn.SyncBatchNorm)' % (norm_kwargs,))
        return {}
    return {'norm_layer': norm_layer, 'norm_kwargs': dict(norm_kwargs or {})}


def build_ssd(spec: SSDSpec, classes: Sequence[str], pretrained_base: Union[bool, str] = False,
              root: Optional[str] = None, ctx: Optional[mx.Context] = None,
              network: Optional[HybridBlock] = None,
              extractor: Optional[HybridBlock] = None, norm_layer=None,
              norm_kwargs: Optional[dict] = None) -> SSD:
    """The SSD ``spec`` describes, for ``classes``.

    Parameters
    ----------
    spec : SSDSpec
        The description (a zoo row's, ``get_ssd``'s, or one recorded by a checkpoint).
    classes : sequence of str
        Foreground class names.
    pretrained_base : bool or str
        Load the backbone's ImageNet weights (see :func:`ssd_zoo.model.weights.find_weights_file`).
    root, ctx : optional
        Folder of weight files; device of the loaded weights.
    network, extractor : HybridBlock, optional
        A backbone block already built (or your own), or your own whole feature extractor,
        used instead of building ``spec.network`` / the named features.
    norm_layer, norm_kwargs : optional
        The backbone's normalization layer and its arguments, as in GluonCV
        (``gluon.contrib.nn.SyncBatchNorm``, ``{'num_devices': 4}``); the extra layers keep
        BatchNorm, as GluonCV's do. The weights are the same either way.

    Raises
    ------
    ValueError
        No classes; a spec composed on a block of your own without that block; unknown kinds.
    """
    from ..backbones import build_extractor

    if not classes:
        raise ValueError('an SSD needs at least one class name; pass classes=[...]')
    if spec.family == 'legacy':
        return REGISTRY.get('legacy', spec.network).load()(spec, classes)
    own = spec.options.get('user_block')
    if own and network is None and extractor is None:
        raise ValueError('this model was composed on a block of your own (%s): build it again '
                         'with ssd_zoo.get_ssd(<your %s>, ...) and load its weights' % (own, own))
    if extractor is None:
        extractor, _ = build_extractor(network if network is not None else spec.network,
                                       spec.base_size, spec.features, spec.extras.filters,
                                       min_depth=spec.extras.min_depth,
                                       reduce_ratio=spec.extras.reduce_ratio,
                                       pretrained=pretrained_base, root=root, ctx=ctx,
                                       extras_kind=spec.extras.kind,
                                       network_kwargs=norm_options(norm_layer, norm_kwargs))
    anchors = spec.anchors
    layouts = anchor_layouts(anchors.sizes, anchors.ratios, anchors.steps, anchors.style)
    return SSD(extractor, layouts, classes, spec.base_size, network_name=spec.name,
               head=spec.head, variances=spec.variances, spec=spec, **spec.decoding.keywords())
