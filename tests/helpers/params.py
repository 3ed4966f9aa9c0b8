"""Test parameters shared by several test files."""
import pytest

from ssd_zoo.zoo import lookup


def one_per_architecture(names):
    """The first dataset of every (size, backbone) runs by default; the other datasets of the
    same architecture (other class counts and anchor sizes) run with ``make test-all``."""
    seen, params = set(), []
    for name in names:
        preset, _ = lookup(name)
        key = (preset.base_size, preset.backbone)
        params.append(name if key not in seen else pytest.param(name, marks=pytest.mark.slow))
        seen.add(key)
    return params


def one_per_backbone(names):
    """The first preset of every backbone runs by default; its other sizes and datasets (the
    same code path on another network) run with ``make test-all``."""
    seen, params = set(), []
    for name in names:
        backbone = lookup(name)[0].backbone
        params.append(name if backbone not in seen else pytest.param(name, marks=pytest.mark.slow))
        seen.add(backbone)
    return params
