"""The legacy symbolic API of MXNet's ``example/ssd`` (for ``mx.mod.Module`` users).

    from ssd_zoo.symbol import symbol_factory, symbol_builder
    config = symbol_factory.get_config('vgg16_reduced', 300, num_classes=20)
    train_sym = symbol_builder.get_symbol_train(**config)
"""
from . import common, symbol_builder, symbol_factory

__all__ = ['common', 'symbol_builder', 'symbol_factory']
