"""The SSD network: feature extractor + per-head predictors + anchors + decoder."""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Sequence, Union

import mxnet as mx
from mxnet import autograd
from mxnet.base import MXNetError
from mxnet.gluon import HybridBlock, nn

from .. import compat
from ..defaults import NMS_THRESH, NMS_TOPK, POST_NMS, layer_init, ssd_ratios
from .anchors import AnchorGenerator, AnchorLayout, anchor_layouts, paper_sizes
from .decode import Decoder
from .heads import ConvPredictor

__all__ = ['SSD', 'get_ssd']

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
        Kernel side of the predictor convolutions.
    nms_thresh, nms_topk, post_nms, nms_mode
        Decoding settings, see :meth:`set_nms`.
    network_name : str
        The backbone's name as the training scripts take it (``--network``); recorded in the
        descriptions of exported models.

    Notes
    -----
    Under ``autograd.train_mode()`` the network returns ``cls_preds (B, N, C+1)``,
    ``box_preds (B, N, 4)`` and ``anchors (1, N, 4)`` (normalized corners); otherwise
    ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` in input pixels. A hybridized
    network re-traces when the mode changes, so it never returns the other mode's outputs.
    """

    def __init__(self, features: HybridBlock, layouts: Sequence[AnchorLayout],
                 classes: Sequence[str], base_size: int, predictor_kernel: int = 3,
                 nms_thresh: float = NMS_THRESH, nms_topk: int = NMS_TOPK,
                 post_nms: int = POST_NMS, nms_mode: str = 'multibox', network_name: str = '',
                 **kwargs):
        super().__init__(**kwargs)
        self.classes = list(classes)
        self.base_size = base_size
        #: the backbone name (as ``--network`` takes it), recorded in exported descriptions
        self.network_name = network_name
        self._predictor_kernel = predictor_kernel
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
                    ConvPredictor(layout.num_anchors * (self.num_classes + 1), predictor_kernel))
                self.box_predictors.add(ConvPredictor(layout.num_anchors * 4, predictor_kernel))
        self.set_nms(nms_thresh, nms_topk, post_nms, nms_mode)

    @property
    def num_classes(self) -> int:
        """Number of foreground classes."""
        return len(self.classes)

    @property
    def layouts(self) -> List[AnchorLayout]:
        """Anchor layout of every head."""
        return [gen.layout for gen in self.anchor_generators]

    def set_nms(self, nms_thresh: float = NMS_THRESH, nms_topk: int = NMS_TOPK,
                post_nms: int = POST_NMS, mode: str = 'multibox') -> None:
        """Set how predictions are decoded into detections.

        Parameters
        ----------
        nms_thresh : float
            IoU above which the lower-scored box is suppressed; <= 0 or >= 1 disables NMS.
        nms_topk : int
            Boxes considered by NMS (best first); -1 for all.
        post_nms : int
            Detections returned per image (``K``); -1 for all.
        mode : str
            ``'multibox'``: MXNet's ``MultiBoxDetection``, one class per anchor (fast);
            ``'per_class'``: GluonCV's per-class candidates and NMS (identical to GluonCV).
        """
        compat.clear_cached_graph(self)
        self.nms_settings = dict(nms_thresh=nms_thresh, nms_topk=nms_topk, post_nms=post_nms,
                                 mode=mode)
        with self.name_scope():
            self.decoder = Decoder(self.num_classes, mode, nms_thresh, nms_topk, post_nms)

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
                new = ConvPredictor(gen.num_anchors * (len(new_classes) + 1),
                                    self._predictor_kernel, in_channels=in_channels,
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
        cls_preds, box_preds, anchors = self.heads(F, x)
        if autograd.is_training():
            return cls_preds, box_preds, anchors
        return self.decoder(cls_preds, box_preds, anchors, x)

    def heads(self, F, x):
        """The raw predictions: ``cls_preds (B, N, C+1)``, ``box_preds (B, N, 4)``, ``anchors
        (1, N, 4)``. Callable from another block's ``hybrid_forward`` (export wrappers)."""
        features = self.features(x)
        if len(features) != len(self.anchor_generators):
            raise ValueError('the feature extractor returns %d maps but the SSD has %d heads'
                             % (len(features), len(self.anchor_generators)))
        cls_preds = [F.flatten(F.transpose(pred(f), (0, 2, 3, 1)))
                     for f, pred in zip(features, self.class_predictors)]
        box_preds = [F.flatten(F.transpose(pred(f), (0, 2, 3, 1)))
                     for f, pred in zip(features, self.box_predictors)]
        anchors = [gen(f, x) for f, gen in zip(features, self.anchor_generators)]
        cls_preds = F.concat(*cls_preds, dim=1).reshape((0, -1, self.num_classes + 1))
        box_preds = F.concat(*box_preds, dim=1).reshape((0, -1, 4))
        return cls_preds, box_preds, F.concat(*anchors, dim=1)


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


def get_ssd(network, base_size: int, features='auto', filters: Optional[Sequence[int]] = None,
            sizes: Optional[Sequence[float]] = None,
            ratios: Optional[Sequence[Sequence[float]]] = None,
            steps: Optional[Sequence[float]] = None, classes: Sequence[str] = (),
            anchor_style: str = 'ssd', predictor_kernel: int = 3, min_depth: int = 128,
            reduce_ratio: float = 1.0, feature_strides: Optional[Sequence[int]] = None,
            num_extras: Optional[int] = None, strict_features: bool = True,
            pretrained_base: Union[bool, str] = False,
            root: Optional[str] = None, ctx: Optional[mx.Context] = None, **kwargs) -> SSD:
    """Compose an SSD on a classification backbone (GluonCV's ``get_ssd`` vocabulary).

    Parameters
    ----------
    network : str or HybridBlock
        GluonCV classification-network name (``'resnet50_v1'``), ``'plainnet'``, a Gluon
        network, or a dedicated extractor name (``'vgg16_atrous'``, ``'resnet34_v1b'``).
    base_size : int
        Training input side.
    features : 'auto', sequence of str, str or HybridBlock
        ``'auto'``: the stage outputs at ``feature_strides`` (16/32; 8/16/32 for VGG), found by
        :func:`ssd_zoo.inspect_backbone`. A list names backbone outputs, checked by shape. A
        dedicated extractor name, or a block returning every head's map, is used as it is.
    filters : sequence of int, optional
        Channels of the stride-2 extra layers after the last feature; default: enough layers
        to reach 1x1 (or ``num_extras``).
    sizes, ratios, steps : optional
        Anchors in pixels at the base size: ``heads + 1`` sizes, ``heads`` ratio lists and
        steps. Defaults: the SSD paper's scales, ratios {1,2,1/2} / {1,2,1/2,3,1/3}, and steps
        equal to the base size over each map's side.
    classes : sequence of str
        Foreground class names.
    feature_strides : sequence of int, optional
        Strides ``features='auto'`` takes (default 16/32, 8/16/32 for VGG).
    num_extras : int, optional
        Number of extra layers ``filters=None`` adds (default: until the map is 1x1).
    strict_features : bool
        Named features must be the output of their stride (see
        :func:`ssd_zoo.backbones.discovery.plan_features`).
    pretrained_base : bool or str
        Load the backbone's ImageNet weights (see :func:`ssd_zoo.weights.find_weights_file`).
    **kwargs
        Passed to :class:`SSD` (``nms_thresh``, ``nms_topk``, ``post_nms``, ``nms_mode``).

    Raises
    ------
    ValueError
        Unknown feature names (listing the nearest), features not getting coarser, or lists
        whose lengths disagree (naming the layer where they part).
    """
    from ..backbones import build_extractor
    from ..backbones.discovery import inspect_backbone, plan_features
    from ..backbones.network import load_network

    if not classes:
        raise ValueError('an SSD needs at least one class name; pass classes=[...]')
    label = network if isinstance(network, str) else type(network).__name__
    kwargs.setdefault('network_name', label)
    named = not isinstance(features, (str, HybridBlock)) or features == 'auto'
    if named:
        network = load_network(network, pretrained_base, root, ctx)
        table = inspect_backbone(network, base_size, name=label)
        names, filters, real_steps = plan_features(table, features, filters, feature_strides,
                                                   num_extras, strict_features)
        features, steps = names, steps if steps is not None else real_steps
    extractor, names = build_extractor(network, base_size, features, filters or (),
                                       min_depth=min_depth, reduce_ratio=reduce_ratio,
                                       pretrained=pretrained_base and not named, root=root,
                                       ctx=ctx)
    heads = len(names)
    sizes = sizes if sizes is not None else paper_sizes(heads, base_size)
    ratios = ratios if ratios is not None else ssd_ratios(heads)
    if steps is None:
        raise ValueError('features=%r brings its own layers, so its anchor steps cannot be '
                         'derived: pass steps=[...] (pixels at the base size, one per head)'
                         % (features if isinstance(features, str) else type(features).__name__))
    _check_head_lists(names, sizes, ratios, steps)
    layouts = anchor_layouts(sizes, ratios, steps, anchor_style)
    return SSD(extractor, layouts, classes, base_size, predictor_kernel=predictor_kernel, **kwargs)


def _check_head_lists(names, sizes, ratios, steps) -> None:
    heads = len(names)
    problems = []
    if len(ratios) != heads:
        problems.append('%d ratio lists' % len(ratios))
    if len(steps) != heads:
        problems.append('%d steps' % len(steps))
    if len(sizes) != heads + 1:
        problems.append('%d sizes (need %d: one per head plus the next size of the last)'
                        % (len(sizes), heads + 1))
    if problems:
        first_bad = min(len(ratios), len(steps), len(sizes) - 1, heads)
        where = names[first_bad] if first_bad < heads else 'after %s' % names[-1]
        raise ValueError('%d feature layers (%s) but %s; the lists part at layer %d (%s)'
                         % (heads, ', '.join(names), ', '.join(problems), first_bad, where))
