#!/usr/bin/env python
"""Start a distributed MXNet job: one scheduler, SERVERS parameter servers and WORKERS workers.

    python scripts/launch.py -n 2 -s 1 -- \\
        python scripts/train_ssd.py --kvstore dist_sync --batch-size 16 ...
    python scripts/launch.py -n 4 -s 2 --launcher ssh -H hosts.txt -- \\
        python scripts/train_ssd.py --kvstore dist_sync --dataset voc --dataset-root /data/VOC

Every process runs COMMAND with the ``DMLC_*`` environment of MXNet's own ``tools/launch.py``
(``DMLC_ROLE`` = scheduler / server / worker, ``DMLC_PS_ROOT_URI``, ``DMLC_PS_ROOT_PORT``,
``DMLC_NUM_SERVER``, ``DMLC_NUM_WORKER``): ``import mxnet`` turns the scheduler and server
processes into the parameter-server loop, and the workers train. Output is forwarded line by line
with a ``[worker 1]`` prefix. When any process fails (or on Ctrl-C) every process started here
is stopped (SIGTERM to its process group, SIGKILL after --grace seconds) and the launcher exits
non-zero naming the process that failed.

--launcher local (default) runs everything on this machine, bound to 127.0.0.1 only.
--launcher ssh runs the scheduler here and the servers and workers round-robin on the hosts of
the hostfile (one ``host`` or ``host:ssh_port`` per line), in the current directory's path,
through ``ssh -tt`` (closing the connection hangs up the remote processes).
"""
import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

from ssd_zoo.cli.options import run
from ssd_zoo.runtime import configure_threads

ROLES_ENV = ('DMLC_ROLE', 'DMLC_PS_ROOT_URI', 'DMLC_PS_ROOT_PORT', 'DMLC_NUM_SERVER',
             'DMLC_NUM_WORKER')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('-n', '--num-workers', type=int, required=True)
    p.add_argument('-s', '--num-servers', type=int, default=None,
                   help='parameter servers (default: as many as workers)')
    p.add_argument('--launcher', choices=('local', 'ssh'), default='local')
    p.add_argument('-H', '--hostfile', default=None, help='ssh: one host[:port] per line')
    p.add_argument('--host-ip', default=None,
                   help='ssh: address of this machine the hosts reach (default: looked up)')
    p.add_argument('--port', type=int, default=0, help='scheduler port (default: a free one)')
    p.add_argument('--grace', type=float, default=10.0,
                   help='seconds between SIGTERM and SIGKILL when stopping')
    p.add_argument('--dry-run', action='store_true', help='print the commands and exit')
    p.add_argument('command', nargs=argparse.REMAINDER, help='-- COMMAND ...')
    args = p.parse_args(argv)
    if args.command[:1] == ['--']:
        args.command = args.command[1:]
    if not args.command:
        p.error('give the command to run after --')
    if args.num_workers < 1 or (args.num_servers is not None and args.num_servers < 1):
        p.error('--num-workers and --num-servers must be at least 1')
    args.num_servers = args.num_servers or args.num_workers
    if args.launcher == 'ssh' and not args.hostfile:
        p.error('--launcher ssh needs -H HOSTFILE')
    return args


def free_port(host='127.0.0.1'):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def read_hosts(path):
    hosts = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split('#')[0].strip()
            if not line:
                continue
            host, _, port = line.partition(':')
            if port and not port.isdigit():
                raise ValueError('%s line %d: expected host or host:port, got %r'
                                 % (path, number, line))
            hosts.append((host, port or '22'))
    if not hosts:
        raise ValueError('%s lists no host' % path)
    return hosts


def outward_ip(towards):
    """This machine's address on the route to ``towards`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((towards, 9))
        return s.getsockname()[0]


def local_threads(workers: int):
    """MXNet threads of each local worker: this machine's cores shared among the workers
    (ssd_zoo would give every one of them all the cores), servers and scheduler one each;
    None when the user set OMP_NUM_THREADS / MXNET_OMP_MAX_THREADS (theirs is passed on)."""
    choice = configure_threads()
    return None if choice.user_set else max(1, choice.threads // max(1, workers))


def plan(args):
    """``[(name, argv, env)]``: the scheduler, the servers, then the workers."""
    roles = [('scheduler', 'scheduler')]
    roles += [('server %d' % i, 'server') for i in range(args.num_servers)]
    roles += [('worker %d' % i, 'worker') for i in range(args.num_workers)]
    if args.launcher == 'local':
        root, port = '127.0.0.1', args.port or free_port()
    else:
        hosts = read_hosts(args.hostfile)
        root = args.host_ip or outward_ip(socket.gethostbyname(hosts[0][0]))
        port = args.port or free_port('')
    common = {'DMLC_PS_ROOT_URI': root, 'DMLC_PS_ROOT_PORT': str(port),
              'DMLC_NUM_SERVER': str(args.num_servers), 'DMLC_NUM_WORKER': str(args.num_workers)}
    jobs = []
    threads = local_threads(args.num_workers)
    for k, (name, role) in enumerate(roles):
        env = dict(common, DMLC_ROLE=role)
        if args.launcher == 'local':
            env['DMLC_NODE_HOST'] = '127.0.0.1'  # bind every process to loopback only
            if threads:
                env['OMP_NUM_THREADS'] = str(threads if role == 'worker' else 1)
            jobs.append((name, list(args.command), env))
        elif role == 'scheduler':
            env['DMLC_NODE_HOST'] = root
            jobs.append((name, list(args.command), env))
        else:
            host, ssh_port = hosts[(k - 1) % len(hosts)]
            remote = 'cd %s && env %s %s' % (
                shlex.quote(os.getcwd()),
                ' '.join('%s=%s' % (key, shlex.quote(v)) for key, v in sorted(env.items())),
                ' '.join(shlex.quote(a) for a in args.command))
            jobs.append(('%s@%s' % (name, host),
                         ['ssh', '-tt', '-o', 'BatchMode=yes', '-o',
                          'StrictHostKeyChecking=accept-new', '-p', ssh_port, host, remote], {}))
    return jobs


class Job:
    """One started process, its output forwarded with a prefix."""

    _print_lock = threading.Lock()  # one line at a time from the reader threads

    def __init__(self, name, argv, env):
        self.name = name
        self.proc = subprocess.Popen(argv, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # its own process group
        self.reader = threading.Thread(target=self._forward, daemon=True)
        self.reader.start()

    def _forward(self):
        for raw in iter(self.proc.stdout.readline, b''):
            for part in raw.decode(errors='replace').replace('\r', '\n').splitlines():
                if part.strip():
                    with self._print_lock:
                        print('[%s] %s' % (self.name, part), flush=True)

    def signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop(jobs, grace):
    """SIGTERM every process group, then SIGKILL what is left after ``grace`` seconds."""
    for job in jobs:
        job.signal(signal.SIGTERM)
    deadline = time.time() + grace
    for job in jobs:
        try:
            job.proc.wait(max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    for job in jobs:
        job.signal(signal.SIGKILL)  # also reaches children left in the group
        job.proc.wait()


def supervise(jobs, grace):
    """Wait for the workers; stop everything at the first failure. Returns the exit code."""
    workers = [j for j in jobs if j.name.startswith('worker')]
    while True:
        for job in jobs:
            code = job.proc.poll()
            if code is None:
                continue
            if code != 0:  # the scheduler and servers may end first, with 0, at shutdown
                how = 'exited with code %d' % code if code > 0 else \
                    'was killed by signal %d' % -code
                print('launch.py: %s (pid %d) %s; stopping the other processes'
                      % (job.name, job.proc.pid, how), file=sys.stderr, flush=True)
                stop(jobs, grace)
                return code if code > 0 else 1
        if all(w.proc.poll() == 0 for w in workers):
            others = [j for j in jobs if j not in workers]
            deadline = time.time() + grace  # servers and scheduler end with the workers
            for job in others:
                try:
                    job.proc.wait(max(0.0, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    pass
            stop(others, grace)
            return 0
        time.sleep(0.2)


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    jobs = plan(args)
    if args.dry_run:
        for name, argv_, env in jobs:
            print('%s: %s %s' % (name, ' '.join('%s=%s' % kv for kv in sorted(env.items())),
                                 ' '.join(shlex.quote(a) for a in argv_)))
        return 0
    started = []
    previous = signal.signal(signal.SIGTERM, _interrupted)  # stopping the launcher stops all
    try:
        for name, argv_, env in jobs:
            started.append(Job(name, argv_, env))
            print('launch.py: started %s (pid %d)' % (name, started[-1].proc.pid), flush=True)
        code = supervise(started, args.grace)
    except KeyboardInterrupt:
        print('launch.py: interrupted; stopping every process', file=sys.stderr, flush=True)
        stop(started, args.grace)
        code = 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    for job in started:
        job.reader.join(timeout=2)
    return code


if __name__ == '__main__':
    run(main)
