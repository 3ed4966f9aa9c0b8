"""The SSD preset table: one row of data per (backbone, base size, dataset).

Every GluonCV SSD model-zoo entry is a row here, plus the rows GluonCV lacks. A row says which
feature extractor to build, which layers feed the heads, which extra layers follow, and how the
anchors of each head are laid out. ``ssd_zoo.zoo`` turns a row into a network; nothing else in
the package repeats these numbers.

Rows that deliberately differ from GluonCV carry a ``differs_from_gluoncv`` note saying how
and why; the test-suite compares every other row anchor-by-anchor with GluonCV.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

from ..defaults import R3, R5, ssd_ratios
from .spec import AnchorSpec, ExtrasSpec, HeadSpec, SSDSpec

__all__ = ['Preset', 'PRESETS', 'R3', 'R5', 'preset_names']


# Anchor sizes (pixels, one more than heads: head k uses sizes[k] and sizes[k+1]).
VGG300_VOC_SIZES = (30, 60, 111, 162, 213, 264, 315)
SIZES_300 = (21, 45, 99, 153, 207, 261, 315)  # GluonCV's coco/custom 300 sizes
VGG512_SIZES = (51.2, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6)
SIZES_512_A = (51.2, 102.4, 189.4, 276.4, 363.52, 450.6, 492)
RESNET50_COCO_SIZES = (51.2, 133.12, 215.04, 296.96, 378.88, 460.8, 542.72)
LITE_SIZES = (60.0, 105.0, 150.0, 195.0, 240.0, 285.0, 300.0)

RATIOS_6, RATIOS_7 = ssd_ratios(6), ssd_ratios(7)

STEPS_300 = (8, 16, 32, 64, 100, 300)
STEPS_512_S16 = (16, 32, 64, 128, 256, 512)
STEPS_512_S8 = (8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class Preset:
    """One SSD configuration.

    Attributes
    ----------
    backbone : str
        Backbone name as it appears in the model name (``'resnet50_v1'``, ``'mobilenet1.0'``).
    base_size : int
        Training input side; anchor sizes and steps are in pixels at this size.
    datasets : tuple of str
        Datasets the row is registered for (``'voc'``, ``'coco'``, ``'custom'``).
    features : tuple of str or str
        Backbone layer names whose outputs feed heads, or the name of a dedicated multi-output
        extractor (``'vgg16_atrous'``, ``'resnet34_v1b'``) which brings its own extras.
    filters : tuple of int
        Output channels of the extra stride-2 layers appended after the last feature (empty for
        dedicated extractors).
    sizes : tuple of float
        ``num_heads + 1`` anchor sizes in pixels.
    ratios : tuple of tuple of float
        Aspect ratios per head.
    steps : tuple of float
        Anchor step (distance between anchor centres) per head, in pixels.
    network : str, optional
        GluonCV model-zoo name of the classification network; defaults to ``backbone``.
    anchor_style : str
        ``'ssd'`` (paper order) or ``'lite'`` (TF object-detection API order).
    predictor_kernel : int
        Kernel side of the class/box predictor convolutions.
    min_depth, reduce_ratio : int, float
        Channels of the 1x1 transition of an extra layer: ``max(min_depth, f * reduce_ratio)``.
    differs_from_gluoncv : str
        Empty when the row reproduces GluonCV; otherwise what differs and why.
    """

    backbone: str
    base_size: int
    datasets: Tuple[str, ...]
    features: object
    filters: Tuple[int, ...]
    sizes: Tuple[float, ...]
    ratios: Tuple[Tuple[float, ...], ...]
    steps: Tuple[float, ...]
    network: Optional[str] = None
    anchor_style: str = 'ssd'
    predictor_kernel: int = 3
    min_depth: int = 128
    reduce_ratio: float = 1.0
    differs_from_gluoncv: str = ''
    per_dataset_sizes: Tuple[Tuple[str, Tuple[float, ...]], ...] = field(default=())

    @property
    def network_name(self) -> str:
        """GluonCV classification-network name the extractor is built from."""
        return self.network or self.backbone

    def sizes_for(self, dataset: str) -> Tuple[float, ...]:
        """Anchor sizes of this row for ``dataset`` (some rows use other sizes on VOC)."""
        return dict(self.per_dataset_sizes).get(dataset, self.sizes)

    def model_name(self, dataset: str) -> str:
        """The zoo name, ``ssd_{base_size}_{backbone}_{dataset}``."""
        return 'ssd_{}_{}_{}'.format(self.base_size, self.backbone, dataset)

    def spec(self, dataset: str) -> SSDSpec:
        """The model description of this row for ``dataset``."""
        return SSDSpec(self.network_name, self.base_size, self.features,
                       AnchorSpec(self.sizes_for(dataset), self.ratios, self.steps,
                                  self.anchor_style),
                       HeadSpec('conv', self.predictor_kernel),
                       ExtrasSpec('ssd', self.filters, self.min_depth, self.reduce_ratio),
                       name=self.backbone)


ALL = ('voc', 'coco', 'custom')

PRESETS: Tuple[Preset, ...] = (
    Preset('vgg16_atrous', 300, ALL, 'vgg16_atrous', (), SIZES_300, RATIOS_6, STEPS_300,
           per_dataset_sizes=(('voc', VGG300_VOC_SIZES),)),
    Preset('vgg16_atrous', 512, ALL, 'vgg16_atrous', (), VGG512_SIZES, RATIOS_7, STEPS_512_S8),
    Preset('resnet18_v1', 512, ALL, ('stage3_activation1', 'stage4_activation1'),
           (512, 512, 256, 256), SIZES_512_A, RATIOS_6, STEPS_512_S16,
           differs_from_gluoncv='custom is registered (GluonCV defines '
                                'ssd_512_resnet18_v1_custom but leaves it out of its zoo)'),
    Preset('resnet50_v1', 512, ALL, ('stage3_activation5', 'stage4_activation2'),
           (512, 512, 256, 256), RESNET50_COCO_SIZES, RATIOS_6, STEPS_512_S16,
           per_dataset_sizes=(('voc', SIZES_512_A),)),
    Preset('resnet101_v1', 512, ALL, ('stage3_activation22', 'stage4_activation2'),
           (512, 512, 256, 256), SIZES_512_A, RATIOS_6, STEPS_512_S16,
           differs_from_gluoncv='not in GluonCV: the last units of stage 3 (23rd block, '
                                '1024 ch, stride 16) and stage 4 (2048 ch, stride 32)'),
    # GluonCV's v2 rows name pre-activations inside stages 3 and 4 (256/512 channels), not the
    # stage outputs; kept as they are because GluonCV's pretrained weights were trained so.
    Preset('resnet101_v2', 512, ('voc',), ('stage3_activation22', 'stage4_activation2'),
           (512, 512, 256, 256), SIZES_512_A, RATIOS_6, STEPS_512_S16),
    Preset('resnet152_v2', 512, ('voc',),
           ('stage2_activation7', 'stage3_activation35', 'stage4_activation2'),
           (512, 512, 256, 256), VGG512_SIZES, RATIOS_7, STEPS_512_S8),
    Preset('mobilenet1.0', 512, ALL, ('relu22_fwd', 'relu26_fwd'), (512, 512, 256, 256),
           SIZES_512_A, RATIOS_6, STEPS_512_S16),
    Preset('mobilenet1.0_lite', 300, ('coco',), ('relu22_fwd', 'relu26_fwd'),
           (512, 256, 256, 128), LITE_SIZES, (R3,) + (R5,) * 5, (16, 30, 60, 100, 150, 300),
           network='mobilenet1.0', anchor_style='lite', predictor_kernel=1, min_depth=64,
           reduce_ratio=0.5),
    Preset('mobilenet0.25', 300, ALL, ('relu22_fwd', 'relu26_fwd'), (256, 256, 128, 128),
           SIZES_300, RATIOS_6, (16, 30, 60, 100, 150, 300),
           differs_from_gluoncv='steps follow the real strides (16, 30, 60, 100, 150, 300); '
                                "GluonCV's (8, 16, 32, 64, 100, 300) put the 19x19 and 10x10 "
                                'anchors of the stride-16/32 features in the top-left quarter'),
    Preset('plainnet', 300, ('custom',), ('stage3_out_fwd', 'stage4_out_fwd', 'stage5_out_fwd'),
           (256, 128, 128), SIZES_300, RATIOS_6, (300 / 38, 300 / 19, 30, 60, 100, 150),
           differs_from_gluoncv='not in GluonCV: a small plain conv-BN-ReLU backbone (stride '
                                '8/16/32 features, maps 38..2) that trains from scratch on a '
                                'CPU in minutes (make run)'),
    Preset('resnet34_v1b', 300, ALL, 'resnet34_v1b', (256, 256, 128, 128), SIZES_300, RATIOS_6,
           STEPS_300),
)


def preset_names() -> Sequence[str]:
    """Every registered model name, in table order."""
    return [p.model_name(d) for p in PRESETS for d in p.datasets]
