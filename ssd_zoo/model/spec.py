"""The model description: everything that decides what an SSD computes, as data.

A zoo row, a composed ``get_ssd(...)`` model and a legacy ``symbol_factory`` network are each
one :class:`SSDSpec`; :func:`ssd_zoo.build_ssd` builds the network from it (with the class
names, which are the data's, not the model's). Checkpoints and exports record the spec as JSON
(:meth:`SSDSpec.to_dict`) and loading rebuilds the network from it, without looking any name
up. The head and the extra layers are named by kind (``'conv'``, ``'ssd'``); a new kind is one
class and one registry entry (:mod:`ssd_zoo.model.registry`).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

from ..defaults import MEAN, NMS_THRESH, NMS_TOPK, POST_NMS, SCORE_THRESH, STD, VARIANCES

__all__ = ['SSDSpec', 'AnchorSpec', 'HeadSpec', 'ExtrasSpec', 'DecodeSpec', 'InputSpec',
           'SPEC_VERSION', 'DECODING_KEYWORDS', 'pop_decoding', 'spec_of',
           'input_normalization']

#: the version of the JSON form; loading refuses newer ones instead of misreading them
SPEC_VERSION = 1


def _floats(values) -> Tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class AnchorSpec:
    """Anchors in pixels at the base size: ``heads + 1`` sizes, per head a ratio list and a
    step; ``style`` ``'ssd'`` (paper order) or ``'lite'`` (TF object-detection order)."""

    sizes: Tuple[float, ...]
    ratios: Tuple[Tuple[float, ...], ...]
    steps: Tuple[float, ...]
    style: str = 'ssd'

    def __post_init__(self):
        object.__setattr__(self, 'sizes', _floats(self.sizes))
        object.__setattr__(self, 'ratios', tuple(_floats(r) for r in self.ratios))
        object.__setattr__(self, 'steps', _floats(self.steps))


@dataclass(frozen=True)
class HeadSpec:
    """The per-map class and box predictors: ``kind`` names a registered head (``'conv'``: a
    ``kernel x kernel`` convolution, GluonCV's ``ConvPredictor``)."""

    kind: str = 'conv'
    kernel: int = 3


@dataclass(frozen=True)
class ExtrasSpec:
    """The layers after the last backbone map: ``kind`` names a registered extra-layer kind
    (``'ssd'``: 1x1 transition of ``max(min_depth, f * reduce_ratio)`` channels, then a 3x3
    stride-2 convolution of ``f``, BatchNorm and ReLU each); ``filters`` one ``f`` a layer."""

    kind: str = 'ssd'
    filters: Tuple[int, ...] = ()
    min_depth: int = 128
    reduce_ratio: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, 'filters', tuple(int(f) for f in self.filters))


@dataclass(frozen=True)
class InputSpec:
    """What the network takes: RGB on [0, 1], minus ``mean``, over ``std``."""

    mean: Tuple[float, float, float] = MEAN
    std: Tuple[float, float, float] = STD

    def __post_init__(self):
        object.__setattr__(self, 'mean', _floats(self.mean))
        object.__setattr__(self, 'std', _floats(self.std))


@dataclass(frozen=True)
class DecodeSpec:
    """Detections from predictions (see :meth:`ssd_zoo.SSD.set_nms`)."""

    mode: str = 'multibox'
    nms_thresh: float = NMS_THRESH
    nms_topk: int = NMS_TOPK
    post_nms: int = POST_NMS
    score_thresh: float = SCORE_THRESH


    def keywords(self) -> dict:
        """The decoding as :class:`ssd_zoo.SSD`'s constructor takes it."""
        return {'nms_thresh': self.nms_thresh, 'nms_topk': self.nms_topk,
                'post_nms': self.post_nms, 'nms_mode': self.mode,
                'score_thresh': self.score_thresh}


#: ``get_model`` / ``get_ssd`` keywords of the decoding, and the :class:`DecodeSpec` field each
#: sets
DECODING_KEYWORDS = {'nms_thresh': 'nms_thresh', 'nms_topk': 'nms_topk',
                     'post_nms': 'post_nms', 'nms_mode': 'mode'}


def pop_decoding(kwargs: dict, function: str, accepted) -> dict:
    """Take the decoding keywords out of ``kwargs`` as :class:`DecodeSpec` fields.

    Raises
    ------
    TypeError
        Any other keyword left in ``kwargs``, naming ``function``'s ``accepted`` ones.
    """
    decoding = {field: kwargs.pop(key) for key, field in DECODING_KEYWORDS.items()
                if key in kwargs}
    if kwargs:
        raise TypeError('%s() got unexpected keyword arguments %s; it takes %s'
                        % (function, sorted(kwargs), ', '.join(accepted)))
    return decoding


_PARTS = {'anchors': AnchorSpec, 'head': HeadSpec, 'extras': ExtrasSpec, 'input': InputSpec,
          'decoding': DecodeSpec}


@dataclass(frozen=True)
class SSDSpec:
    """One SSD, described completely.

    Attributes
    ----------
    network : str
        The backbone (GluonCV classification name, ``'plainnet'``, a dedicated extractor such
        as ``'vgg16_atrous'``, or for ``family='legacy'`` a ``symbol_factory`` network).
    base_size : int
        Training input side; anchor sizes and steps are pixels at this size.
    features : tuple of str or str
        Backbone outputs feeding the first heads, or a dedicated extractor's name.
    anchors, head, extras, input, decoding
        The parts (:class:`AnchorSpec`, :class:`HeadSpec`, :class:`ExtrasSpec`,
        :class:`InputSpec`, :class:`DecodeSpec`).
    variances : tuple of 4 floats
        The box coder's (:class:`~ssd_zoo.model.coder.BoxCoder`).
    family : str
        ``'gluon'`` (composed here) or ``'legacy'`` (the MXNet example's symbols).
    name : str
        The backbone's name as ``--network`` takes it (recorded in exports).
    options : dict
        Family-specific settings (the legacy ``get_config`` overrides).
    """

    network: str
    base_size: int
    features: Union[str, Tuple[str, ...]] = ()
    anchors: AnchorSpec = AnchorSpec((), (), ())
    head: HeadSpec = HeadSpec()
    extras: ExtrasSpec = ExtrasSpec()
    input: InputSpec = InputSpec()
    decoding: DecodeSpec = DecodeSpec()
    variances: Tuple[float, ...] = VARIANCES
    family: str = 'gluon'
    name: str = ''
    options: Dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self):
        if not isinstance(self.features, str):
            object.__setattr__(self, 'features', tuple(self.features))
        object.__setattr__(self, 'variances', _floats(self.variances))
        object.__setattr__(self, 'base_size', int(self.base_size))
        if not self.name:
            object.__setattr__(self, 'name', self.network)

    @classmethod
    def legacy(cls, network: str, data_shape: int, **options) -> 'SSDSpec':
        """The spec of the MXNet example's ``network`` at ``data_shape`` (``options``: its
        ``symbol_factory.get_config`` overrides); the anchors are the configuration's."""
        return cls(network, data_shape, family='legacy', options=dict(options))

    @property
    def num_heads(self) -> int:
        """Heads (feature maps) the anchors describe."""
        return len(self.anchors.ratios)

    def replace(self, **changes) -> 'SSDSpec':
        """A copy with ``changes``; a part's fields may be given as a dict (merged)."""
        for key in list(changes):
            if key in _PARTS and isinstance(changes[key], dict):
                changes[key] = dataclasses.replace(getattr(self, key), **changes[key])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The JSON form (lists for tuples), with :data:`SPEC_VERSION`."""
        out = dataclasses.asdict(self)
        out['spec_version'] = SPEC_VERSION
        return json.loads(json.dumps(out))  # lists, as it reads back from a file

    @classmethod
    def from_dict(cls, data: dict) -> 'SSDSpec':
        """The spec of :meth:`to_dict`'s output.

        Raises
        ------
        ValueError
            A newer spec version, or fields this version does not know (named).
        """
        data = dict(data)
        version = data.pop('spec_version', SPEC_VERSION)
        if version > SPEC_VERSION:
            raise ValueError('model description version %s is newer than this ssd_zoo reads (%d):'
                             ' upgrade ssd_zoo' % (version, SPEC_VERSION))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError('model description has unknown fields %s (known: %s)'
                             % (unknown, sorted(known)))
        for key, part in _PARTS.items():
            if key in data:
                data[key] = part(**data[key])
        return cls(**data)


def spec_of(net) -> Optional[dict]:
    """The JSON form of ``net``'s model description, or None for a network without one (an
    SSD assembled by hand from blocks): what checkpoints and exports record."""
    spec = getattr(net, 'spec', None)
    return spec.to_dict() if spec is not None else None


def input_normalization(model) -> Dict[str, Tuple[float, ...]]:
    """``{'mean': ..., 'std': ...}`` of the input ``model`` takes: its spec's
    (:class:`InputSpec`; ``model`` a network, or a model-description dict with a ``spec``),
    else ImageNet's (:data:`ssd_zoo.defaults.MEAN` / ``STD``)."""
    if isinstance(model, dict):
        recorded = (model.get('spec') or {}).get('input')
        part = InputSpec(**recorded) if recorded else InputSpec()
    else:
        spec = getattr(model, 'spec', None)
        part = spec.input if isinstance(spec, SSDSpec) else InputSpec()
    return {'mean': part.mean, 'std': part.std}
