"""The one registry: every name ssd_zoo knows, by kind, with lazy entries.

=========== =======================================================================
kind        names
=========== =======================================================================
model       zoo SSDs, ``ssd_{size}_{backbone}_{dataset}`` (their :class:`SSDSpec`)
network     classification networks ssd_zoo defines itself (``plainnet``) and
            ``--network`` aliases; any GluonCV classification name also works
legacy      the MXNet example's ``symbol_factory`` networks (``vgg16_reduced``, ...)
extractor   multi-output extractors that bring their own extra layers
head        predictor kinds of :class:`~ssd_zoo.model.spec.HeadSpec`
extras      extra-layer kinds of :class:`~ssd_zoo.model.spec.ExtrasSpec`
weights     published weight files (:mod:`ssd_zoo.model.published`)
=========== =======================================================================

An entry's target is an object or ``'module:attribute'``, imported on first use, so every
name is known whatever was imported (the legacy names without importing
:mod:`ssd_zoo.symbol`).
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Dict, List

__all__ = ['Entry', 'Registry', 'REGISTRY', 'LEGACY_NETWORKS']


@dataclass
class Entry:
    """One registered name: ``target`` (an object or ``'module:attribute'``) and facts."""

    kind: str
    name: str
    target: Any
    info: Dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        """The target, imported on first use."""
        if isinstance(self.target, str) and ':' in self.target:
            module, attribute = self.target.split(':')
            self.target = getattr(importlib.import_module(module), attribute)
        return self.target


class Registry:
    """Names by kind; unknown names fail with the closest ones."""

    def __init__(self):
        self._entries: Dict[str, Dict[str, Entry]] = {}
        self._aliases: Dict[str, Dict[str, str]] = {}

    def register(self, kind: str, name: str, target: Any, **info) -> Entry:
        """Add ``name`` of ``kind``; registering a name twice is an error (two meanings)."""
        entries = self._entries.setdefault(kind, {})
        if name in entries:
            raise ValueError('%s %r is registered already' % (kind, name))
        entries[name] = Entry(kind, name, target, info)
        return entries[name]

    def alias(self, kind: str, alias: str, name: str) -> None:
        """Let ``alias`` mean ``name``."""
        self._aliases.setdefault(kind, {})[alias] = name

    def canonical(self, kind: str, name: str) -> str:
        """``name`` with aliases and spelling variants resolved (unknown names unchanged)."""
        key = self._aliases.get(kind, {}).get(name, name)
        entries = self._entries.get(kind, {})
        if key in entries:
            return key
        folded = key.strip().lower().replace('_', '.')
        for candidate in entries:  # GluonCV spells mobilenet1.0 as mobilenet1_0 in functions
            if candidate.replace('_', '.') == folded:
                return candidate
        return key

    def has(self, kind: str, name: str) -> bool:
        """Whether ``name`` (or its alias) is registered as ``kind``."""
        return self.canonical(kind, name) in self._entries.get(kind, {})

    def get(self, kind: str, name: str) -> Entry:
        """The entry of ``name``.

        Raises
        ------
        ValueError
            Naming the closest registered names of that kind.
        """
        entries = self._entries.get(kind, {})
        key = self.canonical(kind, name)
        if key in entries:
            return entries[key]
        close = difflib.get_close_matches(name.strip().lower(), list(entries), n=5, cutoff=0.5)
        raise ValueError('unknown %s %r; closest: %s (%d %s names are registered)'
                         % (kind, name, ', '.join(close) or '(none)', len(entries), kind))

    def names(self, kind: str) -> List[str]:
        """Registered names of ``kind``, in registration order."""
        return list(self._entries.get(kind, {}))

    def entries(self, kind: str) -> List[Entry]:
        """Registered entries of ``kind``, in registration order."""
        return list(self._entries.get(kind, {}).values())


REGISTRY = Registry()

#: the MXNet example's networks (``symbol_factory.NETWORKS`` holds their configurations;
#: the test-suite checks the two name sets are one)
LEGACY_NETWORKS = ('densenet121', 'inceptionv3', 'mobilenet', 'resnet101', 'resnet152',
                   'resnet18', 'resnet34', 'resnet50', 'vgg16_reduced')


def _register_builtins(registry: Registry) -> None:
    registry.register('network', 'plainnet', 'ssd_zoo.backbones.plain:plainnet',
                      about='a small plain conv-BN-ReLU backbone defined by ssd_zoo')
    for name in ('vgg16_atrous', 'resnet34_v1b'):
        registry.register('extractor', name, 'ssd_zoo.backbones.dedicated:' + name,
                          about='dedicated extractor with its own extra layers')
    registry.alias('network', 'vgg16', 'vgg16_atrous')
    for name in LEGACY_NETWORKS:
        registry.register('legacy', name, 'ssd_zoo.symbol.gluon:build_legacy',
                          about="the MXNet example's %s SSD" % name)
    registry.register('head', 'conv', 'ssd_zoo.model.heads:ConvPredictor')
    registry.register('extras', 'ssd', 'ssd_zoo.backbones.expander:FeatureExpander')


def _register_zoo(registry: Registry) -> None:
    from .presets import PRESETS
    from .published import PUBLISHED
    for preset in PRESETS:
        for dataset in preset.datasets:
            registry.register('model', preset.model_name(dataset), preset.spec(dataset),
                              preset=preset, dataset=dataset)
    for record in PUBLISHED:
        registry.register('weights', record.model, record)


_register_builtins(REGISTRY)
_register_zoo(REGISTRY)
