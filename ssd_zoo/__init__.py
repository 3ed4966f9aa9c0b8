"""ssd_zoo: SSD object detection on any Gluon classification network, on MXNet's MultiBox ops.

>>> import ssd_zoo
>>> net = ssd_zoo.get_model('ssd_300_vgg16_atrous_voc', pretrained_base=False)
"""
# First, before anything loads libmxnet: one OpenMP thread per physical core (MXNet's own
# default is half the CPUs on x86, i.e. one thread on a 2-core machine without SMT).
from .runtime import configure_threads

configure_threads()

from .backbones.discovery import inspect_backbone  # noqa: E402
from .model.anchors import AnchorLayout, anchor_layouts, paper_sizes  # noqa: E402
from .model.coder import BoxCoder  # noqa: E402
from .model.compose import get_ssd  # noqa: E402
from .model.presets import PRESETS, Preset  # noqa: E402
from .model.registry import REGISTRY  # noqa: E402
from .model.spec import SSDSpec  # noqa: E402
from .model.ssd import SSD, build_ssd  # noqa: E402
from .model.zoo import get_model, is_model, list_models, model_spec  # noqa: E402
from .runtime import release_environment  # noqa: E402

release_environment()  # libmxnet has read the thread settings: children choose their own

__version__ = '0.3.0'

__all__ = ['get_model', 'list_models', 'is_model', 'model_spec', 'get_ssd', 'build_ssd',
           'SSD', 'SSDSpec', 'BoxCoder', 'REGISTRY', 'inspect_backbone', 'Preset', 'PRESETS',
           'AnchorLayout', 'anchor_layouts', 'paper_sizes', '__version__']
