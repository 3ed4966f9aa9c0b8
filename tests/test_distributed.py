"""Data-parallel training: several devices in one process, and several worker processes on
MXNet's dist_sync KVStore started by scripts/launch.py on 127.0.0.1."""
import glob
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import tiny
from test_train import TINY

from ssd_zoo.data import generate_shapes

LAUNCH = os.path.join(os.path.dirname(__file__), '..', 'scripts', 'launch.py')
HELPERS = os.path.join(os.path.dirname(__file__), 'helpers')


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    return generate_shapes(str(tmp_path_factory.mktemp('shapes')), TINY)


def launch(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(__file__), os.environ.get('PYTHONPATH', '')]))
    return subprocess.run([sys.executable, LAUNCH] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def load_weights(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def assert_weights_close(a, b, atol):
    assert a.keys() == b.keys()
    worst = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    assert worst < atol, 'weights differ by %g' % worst


def test_two_cpu_contexts_give_the_update_of_one_context_with_the_whole_batch(
        shapes_root, tmp_path):
    one, _ = tiny.train(shapes_root, str(tmp_path), 'device', 8, contexts=1, epochs=1)
    two, _ = tiny.train(shapes_root, str(tmp_path), 'device', 8, contexts=2, epochs=1)
    assert_weights_close(tiny.weights(one), tiny.weights(two), 1e-5)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open('/proc/%d/stat' % pid) as f:  # a zombie is gone for good
        return f.read().split(')')[-1].split()[0] != 'Z'


def test_dist_sync_workers_stay_identical_and_match_one_process(shapes_root, tmp_path):
    out = tmp_path / 'dist'
    out.mkdir()
    result = launch('-n', '2', '-s', '1', '--', sys.executable,
                    os.path.join(HELPERS, 'tiny.py'), shapes_root, str(out), '--kvstore',
                    'dist_sync', '--batch-size', '4')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ('worker 0', 'worker 1'):  # output forwarded with the process's name
        assert re.search(r'\[%s\] this process is rank \d of 2 workers \(dist_sync\)' % name,
                         result.stdout)
    runs = [json.load(open(p)) for p in sorted(glob.glob(str(out / 'worker*.json')))]
    single_dist = load_weights(sorted(glob.glob(str(out / 'worker*-weights.npz')))[0])
    assert len(runs) == 2
    # every step, both workers hold bit-identical weights
    assert runs[0]['digests'] == runs[1]['digests'] and len(runs[0]['digests']) == 8
    losses = [r['cls_loss'] + r['box_loss'] for r in runs[0]['history']]
    assert losses[-1] < losses[0]
    # equal to one process with the combined batch (8) on one device
    tiny.train(shapes_root, str(out), 'device', 8, contexts=1)
    single = load_weights(str(out / 'single-weights.npz'))
    for path in glob.glob(str(out / 'worker*-weights.npz')):
        assert_weights_close(load_weights(path), single, 1e-4)
    single_losses = [r['cls_loss'] + r['box_loss']
                     for r in json.load(open(out / 'single.json'))['history']]
    np.testing.assert_allclose(losses, single_losses, rtol=1e-4)
    # only rank 0 wrote checkpoints, once
    assert sorted(os.listdir(out / 'run')) == sorted(
        ['last.params', 'last.states', 'last.json', 'metrics.csv', 'training.png'])

    # stopped after one epoch and resumed, every worker ends where the uninterrupted run did
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    for extra in (['--epochs', '1'], ['--resume']):
        result = launch('-n', '2', '-s', '1', '--', sys.executable,
                        os.path.join(HELPERS, 'tiny.py'), shapes_root, str(resumed),
                        '--kvstore', 'dist_sync', '--batch-size', '4', *extra)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs_by_file = {p: json.load(open(p)) for p in glob.glob(str(resumed / 'worker*.json'))}
    assert len(runs_by_file) == 4  # two runs of two workers
    resumed_runs = {p: r for p, r in runs_by_file.items() if len(r['history']) == 2}
    assert len(resumed_runs) == 2
    first, second = resumed_runs.values()
    # every step of the resumed epoch is bit for bit that of the uninterrupted run, on both
    assert first['digests'] == second['digests'] == runs[0]['digests'][4:]
    for path in resumed_runs:
        resumed_weights = load_weights(path.replace('.json', '-weights.npz'))
        assert all(np.array_equal(resumed_weights[k], single_dist[k]) for k in single_dist)


@pytest.mark.slow  # 35 s; dist_sync (the default mode) runs in make test
def test_dist_async_trains_and_resumes_without_optimizer_state(shapes_root, tmp_path):
    """Servers run the optimizer in dist_async: checkpoints carry weights only."""
    for extra in (['--epochs', '1'], ['--resume']):
        result = launch('-n', '2', '-s', '1', '--', sys.executable,
                        os.path.join(HELPERS, 'tiny.py'), shapes_root, str(tmp_path),
                        '--kvstore', 'dist_async', '--batch-size', '4', *extra)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'the optimizer state lives on the servers and restarts' in result.stdout
    assert re.search(r'resumed from .*last at epoch 1', result.stdout)
    assert not os.path.exists(tmp_path / 'run' / 'last.states')


DYING_WORKER = r'''
import os, signal, sys, time
import mxnet as mx


def listening(pid):
    """Local addresses (hex, as in /proc/net/tcp) of the process's listening sockets."""
    sockets = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except FileNotFoundError:  # the descriptor listdir itself used
            continue
        if target.startswith('socket:['):
            sockets.add(target[8:-1])
    found = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        for line in open(table).readlines()[1:]:
            fields = line.split()
            if fields[3] == '0A' and fields[9] in sockets:
                found.append(fields[1])
    return found


kv = mx.kv.create('dist_sync')
print('rank', kv.rank, 'pid', os.getpid(), 'listening', ','.join(listening(os.getpid())),
      flush=True)
x = mx.nd.ones((4,))
kv.init(0, x)
if kv.rank == 1:
    time.sleep(1)
    print('dying at', time.time(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
while True:  # the other worker blocks here, waiting for rank 1's push
    kv.push(0, x)
    kv.pull(0, out=x)
'''


def test_a_killed_worker_stops_every_process(tmp_path):
    script = tmp_path / 'dying.py'
    script.write_text(DYING_WORKER)
    start = time.time()
    result = launch('-n', '2', '-s', '1', '--grace', '5', '--', sys.executable, str(script),
                    timeout=120)
    end = time.time()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    died = float(re.search(r'dying at ([\d.]+)', output).group(1))
    assert end - died < 30, 'the launcher took %.1f s to stop' % (end - died)
    assert re.search(r'worker \d \(pid \d+\) was killed by signal 9; stopping', output), output
    pids = [int(p) for p in re.findall(r'started \w+(?: \d)? \(pid (\d+)\)', output)]
    assert len(pids) == 4
    assert not [pid for pid in pids if alive(pid)]
    assert start < died
    # the local launcher binds to loopback only (0100007F is 127.0.0.1 in /proc/net/tcp)
    addresses = ','.join(re.findall(r'listening (\S+)', output)).split(',')
    assert len(addresses) >= 2 and all(a.startswith('0100007F:') for a in addresses), addresses


def test_launcher_dry_run_shows_the_dmlc_environment(tmp_path):
    local = launch('-n', '2', '-s', '1', '--port', '9123', '--dry-run', '--', 'python', 'x.py')
    lines = local.stdout.splitlines()
    assert [line.split(':')[0] for line in lines] == ['scheduler', 'server 0', 'worker 0',
                                                       'worker 1']
    for line in lines:
        assert 'DMLC_PS_ROOT_URI=127.0.0.1' in line and 'DMLC_NODE_HOST=127.0.0.1' in line
        assert 'DMLC_NUM_SERVER=1' in line and 'DMLC_NUM_WORKER=2' in line
        assert 'DMLC_PS_ROOT_PORT=9123' in line and line.endswith('python x.py')
    hosts = tmp_path / 'hosts'
    hosts.write_text('node-a\nnode-b:2222  # second machine\n')
    ssh = launch('-n', '2', '-s', '2', '--launcher', 'ssh', '-H', str(hosts), '--host-ip',
                 '10.0.0.1', '--port', '9000', '--dry-run', '--', 'python', 'train.py')
    lines = ssh.stdout.splitlines()
    assert lines[0].startswith('scheduler: DMLC_NODE_HOST=10.0.0.1')
    assert 'ssh -tt' in lines[1] and 'node-a' in lines[1] and 'DMLC_ROLE=server' in lines[1]
    assert '-p 2222 node-b' in lines[2]
    assert 'DMLC_PS_ROOT_URI=10.0.0.1' in lines[3] and 'DMLC_ROLE=worker' in lines[3]
    bad = tmp_path / 'bad'
    bad.write_text('node-a:ssh\n')
    result = launch('-n', '1', '--launcher', 'ssh', '-H', str(bad), '--', 'true')
    assert result.returncode != 0 and 'line 1' in result.stderr


def test_train_script_under_the_launcher(shapes_root, tmp_path):
    """The README's command: both workers report the combined batch's loss; rank 0 alone
    validates and writes checkpoints."""
    result = launch('-n', '2', '-s', '1', '--', sys.executable,
                    os.path.join(os.path.dirname(LAUNCH), 'train_ssd.py'), '--kvstore',
                    'dist_sync', '--dataset', 'custom', '--dataset-root', shapes_root,
                    '--data-shape', '96', '--batch-size', '4', '--epochs', '1',
                    '--save-prefix', str(tmp_path / 'run'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    losses = re.findall(r'\[worker \d\] epoch 1: lr [\d.e-]+, cls_loss ([\d.]+), box_loss ([\d.]+)',
                        result.stdout)
    assert len(losses) == 2 and losses[0] == losses[1]
    assert len(re.findall(r'checkpoint .*last \(epoch 1\)', result.stdout)) == 1
    assert os.path.isfile(tmp_path / 'run' / 'best.params')


def test_worker_shards_have_equal_length_and_together_make_the_single_process_batches():
    from ssd_zoo.data.loader import EpochBatchSampler
    single = EpochBatchSampler(11, 4, seed=3)
    shards = [EpochBatchSampler(11, 2, seed=3, shard=(rank, 2)) for rank in range(2)]
    for sampler in [single] + shards:
        sampler.set_epoch(5)
    # 11 images over 2 workers: both get 5 (dist_sync needs the same number of steps)
    assert [len(list(s)) for s in shards] == [2, 2] and len(single) == 2
    for whole, *parts in zip(single, *shards):
        assert sorted(whole) == sorted(k for part in parts for k in part)
