"""ssd_zoo: SSD object detection on any Gluon classification network, on MXNet's MultiBox ops.

>>> import ssd_zoo
>>> net = ssd_zoo.get_model('ssd_300_vgg16_atrous_voc', pretrained_base=False)
"""
from .anchors import AnchorLayout, anchor_layouts, paper_sizes
from .backbones.discovery import inspect_backbone
from .presets import PRESETS, Preset
from .ssd import SSD, get_ssd
from .zoo import get_model, list_models

__version__ = '0.1.0'

__all__ = ['get_model', 'list_models', 'get_ssd', 'SSD', 'inspect_backbone', 'Preset',
           'PRESETS', 'AnchorLayout', 'anchor_layouts', 'paper_sizes', '__version__']
