#!/usr/bin/env python
"""``ssd-zoo quantize`` as a file: the same flags (``--help`` lists them); the code is
:mod:`ssd_zoo.cli.commands.quantize`."""
from ssd_zoo.cli.commands.quantize import main
from ssd_zoo.cli.options import run

if __name__ == '__main__':
    run(main)
