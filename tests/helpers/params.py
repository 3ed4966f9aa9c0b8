"""Test parameters shared by several test files."""
import pytest

from ssd_zoo.model.zoo import lookup


def _first_of_each(names, group):
    """``names`` with every one but the first of its ``group(preset)`` marked ``slow``."""
    seen, params = set(), []
    for name in names:
        key = group(lookup(name)[0])
        params.append(name if key not in seen else pytest.param(name, marks=pytest.mark.slow))
        seen.add(key)
    return params


def one_per_architecture(names):
    """The first dataset of every (size, backbone) runs by default; the other datasets of the
    same architecture (other class counts and anchor sizes) run with ``make test-all``."""
    return _first_of_each(names, lambda preset: (preset.base_size, preset.backbone))


def one_per_backbone(names):
    """The first preset of every backbone runs by default; its other sizes and datasets (the
    same code path on another network) run with ``make test-all``."""
    return _first_of_each(names, lambda preset: preset.backbone)


def publish(monkeypatch, name, sha1):
    """Make ``sha1`` the published SHA-1 of zoo model ``name`` for one test: the weights
    record ssd_zoo's model store reads (:mod:`ssd_zoo.model.published`)."""
    import dataclasses

    from ssd_zoo.model.registry import REGISTRY
    entry = REGISTRY.get('weights', name)
    monkeypatch.setattr(entry, 'target', dataclasses.replace(entry.target, sha1=sha1))
