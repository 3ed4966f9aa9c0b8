"""The zoo as a table: per model its input size, anchors, parameters, GFLOPs and published
accuracy, measured once into ``benchmarks/results.yml`` (``ssd-zoo list --table --write``)
and read from there by ``ssd-zoo list --table`` and the README's zoo table."""
from __future__ import annotations

import json
import os
from typing import Dict, List

__all__ = ['measure_model', 'write_results', 'read_results', 'format_table', 'RESULTS_FILE']

#: the file in a checkout (the package also ships a copy as ``ssd_zoo/cli/results.yml``)
RESULTS_FILE = os.path.join('benchmarks', 'results.yml')
_PACKAGED = os.path.join(os.path.dirname(__file__), 'results.yml')
COLUMNS = ('model', 'input', 'anchors', 'params_m', 'gflops', 'published')


def _conv_flops(symbol, side: int) -> float:
    """Multiply-adds x 2 of every convolution and fully connected layer at ``side``."""
    internals = symbol.get_internals()
    _, shapes, _ = internals.infer_shape(data=(1, 3, side, side))
    out_shape = dict(zip(internals.list_outputs(), shapes))
    flops = 0.0
    nodes = json.loads(symbol.tojson())['nodes']
    for node in nodes:
        if node['op'] not in ('Convolution', 'FullyConnected'):
            continue
        attrs = node.get('attrs', {})
        out = out_shape.get(node['name'] + '_output')
        weight_node = nodes[node['inputs'][1][0]]  # the layer's second input is its weight
        weight = out_shape.get(weight_node['name'] + ('_output' if weight_node['op'] != 'null'
                                                      else ''))
        if out is None or weight is None:
            continue
        per_output = 1
        for d in weight[1:]:
            per_output *= d
        elements = 1
        for d in out:
            elements *= d
        flops += 2.0 * elements * per_output / max(int(attrs.get('num_group', 1)), 1)
    return flops


def measure_model(name: str) -> Dict[str, object]:
    """One row: input side, anchors at it, parameters (millions), GFLOPs, published score."""
    import mxnet as mx
    from mxnet import autograd

    from ..model.registry import REGISTRY
    from ..model.zoo import get_model, lookup
    _, dataset = lookup(name)
    net = get_model(name, classes=['object'] * 20 if dataset == 'custom' else None,
                    pretrained_base=False)
    net.initialize()
    side = net.base_size
    x = mx.nd.zeros((1, 3, side, side))
    with autograd.train_mode():
        anchors = net(x)[2].shape[1]
    params = sum(p.data().size for p in net.collect_params().values())
    with autograd.predict_mode():
        symbol = net(mx.sym.var('data'))[0]
    record = REGISTRY.get('weights', name).target if REGISTRY.has('weights', name) else None
    return {'model': name, 'input': side, 'anchors': int(anchors),
            'params_m': round(params / 1e6, 2),
            'gflops': round(_conv_flops(symbol, side) / 1e9, 2),
            'published': None if record is None or record.published is None else
            '%s %.1f' % (record.metric, record.published)}


def write_results(path: str = RESULTS_FILE, progress=None) -> List[dict]:
    """Measure every zoo model and write ``path`` (custom models with 20 classes)."""
    from ..model.zoo import list_models
    names = list_models()
    rows = [measure_model(n) for n in (progress(names) if progress else names)]
    lines = ['# ssd_zoo models: written by `ssd-zoo list --table --write`; custom models are',
             '# counted with 20 classes. published: the accuracy of the published weights.',
             'models:']
    for row in rows:
        lines.append('  - ' + ', '.join('%s: %s' % (k, _yaml(row[k])) for k in COLUMNS)
                     .join(('{', '}')))
    text = '\n'.join(lines) + '\n'
    for target in (path, _PACKAGED):
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        with open(target, 'w') as f:
            f.write(text)
    return rows


def _yaml(value) -> str:
    if value is None:
        return 'null'
    return json.dumps(value) if isinstance(value, str) else str(value)


def read_results(path: str = RESULTS_FILE) -> List[dict]:
    """The rows of ``results.yml`` (the checkout's, else the packaged copy).

    Raises
    ------
    FileNotFoundError
        Neither file exists (``ssd-zoo list --table --write`` makes it).
    """
    import yaml
    for candidate in (path, _PACKAGED):
        if os.path.isfile(candidate):
            with open(candidate) as f:
                return yaml.safe_load(f)['models']
    raise FileNotFoundError('%s is missing: `ssd-zoo list --table --write` measures the zoo '
                            'and writes it' % path)


def format_table(rows: List[dict], markdown: bool = False) -> str:
    """The rows as aligned text, or as a Markdown table."""
    head = ('model', 'input', 'anchors', 'params (M)', 'GFLOPs (2 x MACs)', 'published')
    body = [[str(r['model']), str(r['input']), str(r['anchors']), '%.2f' % r['params_m'],
             '%.2f' % r['gflops'], r['published'] or '-'] for r in rows]
    if markdown:
        return '\n'.join(['| %s |' % ' | '.join(head), '|---' * len(head) + '|']
                         + ['| %s |' % ' | '.join(cells) for cells in body])
    widths = [max(len(x) for x in column) for column in zip(head, *body)]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
                     for cells in [list(head)] + body)
