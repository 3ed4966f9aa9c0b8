"""The model: its description (:mod:`.spec`), the registry of names (:mod:`.registry`), the
zoo rows (:mod:`.presets`), the SSD block and its parts (:mod:`.ssd`, :mod:`.anchors`,
:mod:`.heads`, :mod:`.coder`, :mod:`.decode`), the zoo (:mod:`.zoo`) and weight files
(:mod:`.published`, :mod:`.weights`, :mod:`.model_store`).

The public names are re-exported by :mod:`ssd_zoo` itself.
"""
