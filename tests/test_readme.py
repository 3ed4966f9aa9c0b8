"""The README's commands as written: every ``python scripts/...`` and ``ssd-zoo`` line parses
with the flags it shows (so the README cannot drift from the scripts), the commands that fit
this machine run and print what the README says, and its Python example runs."""
import argparse
import importlib.util
import os
import re
import shlex

import pytest

HERE = os.path.join(os.path.dirname(__file__), '..')


def blocks(language):
    with open(os.path.join(HERE, 'README.md')) as f:
        text = f.read()
    return re.findall(r'```%s\n(.*?)```' % language, text, flags=re.S)


def shell_commands():
    """Each command of the bash blocks, continuation lines joined, the comment dropped."""
    commands = []
    for block in blocks('bash'):
        for line in block.replace('\\\n', ' ').splitlines():
            words = shlex.split(line, comments=True)
            if words and words[-1] == '...':
                continue  # an elided command line ("--dry-run -- ...")
            if words:
                commands.append((line.split('#')[0].strip(), words))
    return commands


def script_argv(words):
    """``(script, argv)`` of a ``python scripts/x.py ...`` or ``ssd-zoo ...`` command; the
    launcher's ``-- python scripts/train_ssd.py ...`` is the command it starts."""
    if words[0] == 'ssd-zoo':
        return 'ssd-zoo', words[1:]
    if '--' in words and 'launch.py' in ' '.join(words):
        inner = words[words.index('--') + 1:]
        return script_argv(inner[1:] if inner[0].endswith('python') else inner)
    if words[0] in ('python', '.venv/bin/python') and words[1].startswith('scripts/'):
        return words[1], words[2:]
    return None, None


class Parsed(Exception):
    def __init__(self, namespace):
        super().__init__()
        self.namespace = namespace


def parse_only(script, argv, monkeypatch):
    """The namespace the script's (or ssd-zoo's) parser makes of ``argv``: its ``main`` runs
    until parsing is done. A flag the parser does not know fails like on the command line."""
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))
    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_and_stop)
    if script == 'ssd-zoo':
        from ssd_zoo.cli import main
    else:
        spec = importlib.util.spec_from_file_location('readme_script',
                                                      os.path.join(HERE, script))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        main = module.main
    with pytest.raises(Parsed) as parsed:
        main(argv)
    return parsed.value.namespace


COMMANDS = [(line, words) for line, words in shell_commands() if script_argv(words)[0]]


def test_the_readme_has_commands_to_check():
    scripts = {script_argv(words)[0] for _, words in COMMANDS}
    assert {'scripts/train_ssd.py', 'scripts/eval_ssd.py', 'scripts/export_ssd.py',
            'scripts/quantize_ssd.py', 'scripts/demo_ssd.py', 'ssd-zoo'} <= scripts


@pytest.mark.parametrize('line,words', COMMANDS, ids=[c[0][:60] for c in COMMANDS])
def test_every_readme_command_parses_as_written(line, words, monkeypatch, capsys):
    script, argv = script_argv(words)
    try:
        parse_only(script, argv, monkeypatch)
    except SystemExit as err:  # argparse's exit: the README shows a flag that is not there
        raise AssertionError('README: %s\n%s' % (line, capsys.readouterr().err)) from err


def test_the_voc_recipe_trains_gluoncvs_512_model(monkeypatch):
    """The README's VOC recipe is ssd_512_resnet50_v1_voc, as GluonCV names it."""
    recipe = next(words for line, words in COMMANDS if '--dataset voc' in line
                  and 'train_ssd.py' in line and 'launch.py' not in line)
    args = parse_only(*script_argv(recipe), monkeypatch)
    from ssd_zoo.model.zoo import lookup
    assert 'ssd_%d_%s_%s' % (args.data_shape, args.network, args.dataset) == \
        'ssd_512_resnet50_v1_voc'
    lookup('ssd_512_resnet50_v1_voc')


def test_the_anchor_command_prints_the_count_the_readme_says(tmp_path, monkeypatch, capsys):
    from ssd_zoo.cli import main
    line, words = next(c for c in COMMANDS if c[1][:2] == ['ssd-zoo', 'anchors'])
    said = re.search(r'# (\d+) anchors', open(os.path.join(HERE, 'README.md')).read()).group(1)
    monkeypatch.chdir(tmp_path)
    assert main(words[1:]) == 0, line
    out = capsys.readouterr().out
    assert re.search(r'total\s+%s' % said, out), out
    assert os.path.isfile(tmp_path / 'anchors.png')


def test_the_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    example = next(b for b in blocks('python') if 'get_model' in b)
    exec(compile(example, 'README.md', 'exec'), {})
    assert os.path.isfile(tmp_path / 'model' / 'ssd-symbol.json')
