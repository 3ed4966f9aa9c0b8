"""How many threads MXNet computes with, and what this machine's CPU gives oneDNN.

MXNet starts ``omp_get_num_procs() / 2`` OpenMP threads on x86 when neither
``OMP_NUM_THREADS`` nor ``MXNET_OMP_MAX_THREADS`` is set: it assumes two hardware threads per
core (apache/mxnet#10836). On a machine without SMT that is half the cores - one thread on a
2-core machine. ssd_zoo instead gives MXNet one thread per *physical core available to this
process*: the CPUs of its affinity mask, SMT siblings counted once, capped by a cgroup CPU
quota. A user's own ``OMP_NUM_THREADS`` / ``MXNET_OMP_MAX_THREADS`` always wins.

With the count goes libgomp's wait policy (:data:`SPIN_SETTINGS`). libgomp lets a thread
that waits for work spin about 300000 times (a few ms) before it sleeps, but only 1000 times
once it manages more threads than there are CPUs - and MXNet always makes it: its engine's
worker thread has an OpenMP team of its own beside the main thread's. At one thread per core
every parallel region then has to wake sleeping threads, which made small batches several
times slower (measured: benchmarks/README.md). ``OMP_WAIT_POLICY=ACTIVE`` keeps the spinning
when throttled and ``GOMP_SPINCOUNT`` bounds it to libgomp's unthrottled default, so an idle
process still sleeps after a few ms. A user's own ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``
wins, and a user's thread count keeps libgomp's policy (they may oversubscribe on purpose).

Both must be in the environment before libmxnet is loaded (MXNet and libgomp read them once,
at load), so ``import ssd_zoo`` applies them before importing mxnet.
"""
from __future__ import annotations

import functools
import glob
import logging
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional

__all__ = ['ThreadChoice', 'choose_threads', 'configure_threads', 'physical_cores',
           'cgroup_cpu_limit', 'THREAD_VARIABLES', 'SPIN_SETTINGS', 'describe',
           'conv_channel_block', 'release_environment', 'applied_settings']

log = logging.getLogger(__name__)

#: variables through which a user sets MXNet's thread count (MXNet reads both)
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS')
#: libgomp's wait policy with ssd_zoo's thread count: spin as long as libgomp does when not
#: throttled (see the module's description)
SPIN_SETTINGS = {'OMP_WAIT_POLICY': 'ACTIVE', 'GOMP_SPINCOUNT': '300000'}


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count chosen for MXNet and why."""

    threads: int
    reason: str
    user_set: bool


def physical_cores(cpus: Iterable[int], sysfs: str = '/sys/devices/system/cpu') -> int:
    """Distinct physical cores among ``cpus`` (SMT siblings counted once).

    Cores are told apart by ``(physical_package_id, core_id)`` from sysfs; a CPU without that
    information counts as a core of its own.
    """
    cores = set()
    for cpu in cpus:
        topology = os.path.join(sysfs, 'cpu%d' % cpu, 'topology')
        try:
            with open(os.path.join(topology, 'physical_package_id')) as f:
                package = f.read().strip()
            with open(os.path.join(topology, 'core_id')) as f:
                core = f.read().strip()
            cores.add((package, core))
        except OSError:
            cores.add(('cpu', str(cpu)))
    return len(cores)


def _cgroup_v2_limit(cgroup_root: str, proc_cgroup: str) -> Optional[float]:
    paths = [os.path.join(cgroup_root, 'cpu.max')]
    try:
        with open(proc_cgroup) as f:
            for line in f:
                if line.startswith('0::'):
                    own = line.strip()[3:].lstrip('/')
                    if own:
                        paths.insert(0, os.path.join(cgroup_root, own, 'cpu.max'))
    except OSError:
        pass
    for path in paths:
        try:
            with open(path) as f:
                quota, period = f.read().split()[:2]
        except (OSError, ValueError):
            continue
        return None if quota == 'max' else int(quota) / int(period)
    return None


def _cgroup_v1_limit(cgroup_root: str) -> Optional[float]:
    for folder in sorted(glob.glob(os.path.join(cgroup_root, 'cpu*'))):
        try:
            with open(os.path.join(folder, 'cpu.cfs_quota_us')) as f:
                quota = int(f.read())
            with open(os.path.join(folder, 'cpu.cfs_period_us')) as f:
                period = int(f.read())
        except (OSError, ValueError):
            continue
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def cgroup_cpu_limit(cgroup_root: str = '/sys/fs/cgroup',
                     proc_cgroup: str = '/proc/self/cgroup') -> Optional[float]:
    """The CPU quota of this process's cgroup in CPUs (``1.5``), or None when unlimited."""
    limit = _cgroup_v2_limit(cgroup_root, proc_cgroup)
    return limit if limit is not None else _cgroup_v1_limit(cgroup_root)


def choose_threads(environ: Mapping[str, str] = os.environ, cpus: Optional[Iterable[int]] = None,
                   sysfs: str = '/sys/devices/system/cpu', cgroup_root: str = '/sys/fs/cgroup',
                   proc_cgroup: str = '/proc/self/cgroup') -> ThreadChoice:
    """The OpenMP thread count for MXNet: the user's if set, else one per available core.

    Parameters
    ----------
    environ : mapping
        Where the user's ``OMP_NUM_THREADS`` / ``MXNET_OMP_MAX_THREADS`` are looked up.
    cpus : iterable of int, optional
        CPUs this process may run on (default: its affinity mask).
    sysfs, cgroup_root, proc_cgroup : str
        Where the topology and the quota are read (tests point them at fake trees).
    """
    for name in THREAD_VARIABLES:
        value = environ.get(name, '').strip()
        if value:
            return ThreadChoice(_leading_int(value), '%s=%s set by the user' % (name, value),
                                True)
    cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    cores = physical_cores(cpus, sysfs)
    reason = '%d physical core%s among the %d CPU%s this process may use' % (
        cores, 's' if cores != 1 else '', len(cpus), 's' if len(cpus) != 1 else '')
    threads = cores
    quota = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if quota is not None and math.ceil(quota) < threads:
        threads = max(1, math.ceil(quota))
        reason += ', capped by the cgroup CPU quota of %.2f CPUs' % quota
    return ThreadChoice(max(1, threads), reason, False)


def _leading_int(value: str) -> int:
    """``OMP_NUM_THREADS`` may be a list (``4,2`` for nested levels): its first number."""
    match = re.match(r'\s*(\d+)', value)
    return int(match.group(1)) if match else 1


_CHOICE: Optional[ThreadChoice] = None
#: what :func:`configure_threads` wrote into ``os.environ`` (and :func:`release_environment`
#: takes out again once libmxnet has read it)
_APPLIED: Dict[str, str] = {}


def configure_threads() -> ThreadChoice:
    """Give MXNet one OpenMP thread per available physical core, unless the user chose.

    Called by ``import ssd_zoo``. Before mxnet is loaded the count goes into
    ``MXNET_OMP_MAX_THREADS`` (and ``OMP_NUM_THREADS`` where it is below the CPUs this process
    may use) and the wait policy into :data:`SPIN_SETTINGS`' variables, which
    libgomp and MXNet read when they load; :func:`release_environment` then takes them out of
    ``os.environ``, so that other programs this process starts choose their own. If mxnet was
    imported first its thread pool is already sized; ssd_zoo then logs once how to fix it.
    """
    global _CHOICE  # pylint: disable=global-statement
    if _CHOICE is not None:
        return _CHOICE
    choice = choose_threads()
    if not choice.user_set:
        if 'mxnet' in sys.modules:
            log.warning('mxnet was imported before ssd_zoo, so it computes with its default '
                        'threads (half the CPUs on x86); for %d threads (%s) import ssd_zoo '
                        'first or set OMP_NUM_THREADS=%d %s', choice.threads, choice.reason,
                        choice.threads, _as_shell(SPIN_SETTINGS))
        else:
            # MXNet's own variable: with it (and no OMP_NUM_THREADS) MXNet still runs forked
            # children - data-loader workers - single-threaded, where an inherited
            # OMP_NUM_THREADS gives each a spinning team of its own (measured: a GluonCV
            # DataLoader worker beside a training step 4-6 img/s instead of 26)
            _APPLIED['MXNET_OMP_MAX_THREADS'] = str(choice.threads)
            if choice.threads < len(os.sched_getaffinity(0)):
                # SMT siblings or a CPU quota: libgomp's default team (oneDNN's) would take
                # every CPU, so bound it too
                _APPLIED['OMP_NUM_THREADS'] = str(choice.threads)
            if not any(name in os.environ for name in SPIN_SETTINGS):
                _APPLIED.update(SPIN_SETTINGS)
            os.environ.update(_APPLIED)
    _CHOICE = choice
    return choice


def release_environment() -> None:
    """Take ssd_zoo's settings back out of ``os.environ`` (``import ssd_zoo`` calls it once
    libmxnet has read them): this process keeps them, while a subprocess, a
    ``multiprocessing`` spawn or a GluonCV ``DataLoader``'s workers are not handed a thread
    count and a spinning policy chosen for this process. A value the user has changed since
    stays."""
    if _APPLIED:
        import mxnet as mx
        mx.nd.zeros((1,)).asnumpy()  # MXNet reads OMP_NUM_THREADS at its first operator
    for name, value in _APPLIED.items():
        if os.environ.get(name) == value:
            del os.environ[name]


def applied_settings() -> Dict[str, str]:
    """The thread count and wait policy ssd_zoo gave this process (empty where the user set
    them or mxnet was imported first)."""
    return dict(_APPLIED)


def _as_shell(settings: Mapping[str, str]) -> str:
    return ' '.join('%s=%s' % item for item in settings.items())


def wait_policy() -> str:
    """libgomp's wait policy in this process, and by whom it was set."""
    ours = {name: _APPLIED[name] for name in SPIN_SETTINGS if name in _APPLIED}
    if ours:
        return _as_shell(ours) + ' (set by ssd_zoo)'
    values = {name: os.environ[name] for name in SPIN_SETTINGS if name in os.environ}
    return _as_shell(values) + ' (yours)' if values else "libgomp's default"


def describe() -> dict:
    """What MXNet runs with here: build features, oneDNN's ISA, threads and why."""
    import mxnet as mx
    choice = configure_threads()
    features = [f.name for f in mx.runtime.Features().values() if f.enabled]
    return {'mxnet': mx.__version__, 'features': features, 'cpu': cpu_model(),
            'onednn_isa': onednn_isa(), 'threads': choice.threads,
            'threads_reason': choice.reason, 'wait_policy': wait_policy(),
            'omp_num_threads_env': os.environ.get('OMP_NUM_THREADS')}


@functools.lru_cache(maxsize=None)
def _cpuinfo(field: str) -> str:
    """The first ``field`` line's value of ``/proc/cpuinfo`` (empty where there is none; read
    once per field: the predictors ask for the ISA at every imperative forward)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith(field):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return ''


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``'unknown'`` elsewhere)."""
    return _cpuinfo('model name') or 'unknown'


def cpu_flags() -> set:
    """The CPU's feature flags (``avx2``, ``avx512_bf16``, ``amx_int8`` ...)."""
    return set(_cpuinfo('flags').split())


def isa_cap() -> str:
    """oneDNN's ISA cap set by the user (``DNNL_MAX_CPU_ISA`` / ``ONEDNN_MAX_CPU_ISA``),
    upper-case; empty when none is set."""
    return (os.environ.get('ONEDNN_MAX_CPU_ISA') or os.environ.get('DNNL_MAX_CPU_ISA')
            or '').upper()


#: oneDNN's ISA names from the best the CPU flags allow, first match wins
_ISA_BY_FLAGS = (('AVX512_CORE_AMX', ('amx_int8', 'amx_bf16', 'avx512_vnni')),
                 ('AVX512_CORE_BF16', ('avx512_bf16', 'avx512_vnni')),
                 ('AVX512_CORE_VNNI', ('avx512_vnni',)),
                 ('AVX512_CORE', ('avx512f', 'avx512bw', 'avx512vl')),
                 ('AVX2_VNNI', ('avx2', 'avx_vnni')),
                 ('AVX2', ('avx2',)),
                 ('AVX', ('avx',)),
                 ('SSE41', ('sse4_1',)))
_ISA_ORDER = [name for name, _ in _ISA_BY_FLAGS][::-1]


def _isa_and_best():
    """(the ISA oneDNN dispatches to, the best the CPU has): the second lowered to the first
    by a ``DNNL_MAX_CPU_ISA`` / ``ONEDNN_MAX_CPU_ISA`` cap."""
    flags = cpu_flags()
    best = next((name for name, needed in _ISA_BY_FLAGS if flags.issuperset(needed)), 'unknown')
    cap = isa_cap()
    if best in _ISA_ORDER and cap in _ISA_ORDER and _ISA_ORDER.index(cap) < _ISA_ORDER.index(best):
        return cap, best
    return best, best


def onednn_isa() -> str:
    """The instruction set oneDNN dispatches to: the best the CPU has, lowered by a
    ``DNNL_MAX_CPU_ISA`` / ``ONEDNN_MAX_CPU_ISA`` cap."""
    isa, best = _isa_and_best()
    if isa != best:
        return '%s (capped by DNNL_MAX_CPU_ISA; the CPU has %s)' % (isa, best)
    return isa


def conv_channel_block(isa: Optional[str] = None) -> int:
    """The output-channel multiple oneDNN's fast CPU convolutions are blocked by: 16 floats
    of an AVX-512 register, 8 of an AVX2 one. A convolution whose output channels are not a
    multiple falls back to slower kernels (an SSD's 20- or 84-channel class predictors ran
    2-3x slower than with 24 or 96 channels, forward and backward; benchmarks/training.md).

    ``isa``: an ISA name as :func:`onednn_isa` gives it (default: this process's)."""
    isa = isa if isa is not None else _isa_and_best()[0]
    return 16 if isa.startswith('AVX512') else 8
