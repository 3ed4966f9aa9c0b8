#!/usr/bin/env python
"""``ssd-zoo demo`` as a file: the same flags (``--help`` lists them); the code is
:mod:`ssd_zoo.cli.commands.demo`."""
from ssd_zoo.cli.commands.demo import main
from ssd_zoo.cli.options import run

if __name__ == '__main__':
    run(main)
