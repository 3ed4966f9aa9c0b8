"""Backbone symbols of the legacy API, by the module names the SSD example's configs use."""
from . import densenet, inceptionv3, mobilenet, resnet, vgg16_reduced

#: ``network`` value of a config -> module with ``get_symbol(num_classes, **kwargs)``
NETWORKS = {'vgg16_reduced': vgg16_reduced, 'resnet': resnet, 'inceptionv3': inceptionv3,
            'mobilenet': mobilenet, 'densenet': densenet}

__all__ = ['NETWORKS']
