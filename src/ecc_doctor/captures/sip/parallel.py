"""``analyze --jobs N``: one capture read once and analysed by N processes, merged into one result.

The calling process reads the file (:meth:`PcapEngine.sip_routed`) and deals its SIP messages
out to N worker processes in batches through pipes: all messages of a Call-ID to one
worker, every REGISTER to worker 0 (:func:`~ecc_doctor.captures.shard.shard_of`), notes
about the capture itself to worker 0 too. Each worker parses and judges its share; the
reader keeps the progress callback and :func:`ecc_doctor.cancel.raise_if_stopped`, and
waits while a worker's pipe is full (memory stays flat), so a slower worker sets the pace.
Workers are started with the "spawn" method (the check runner and the dashboard have
threads, and forking a threaded process is unsafe). :func:`merge` then adds the shares up
to the result one process gives: counts summed, flows and notes re-capped in frame order,
ladders merged by last activity.

Reading once matters: decoding the packets and framing the SIP messages is about a fifth
of the work on a SIP-heavy capture, and when every process read the whole file (as the
first version of this module did) that fifth was done N times. With N = 2 on 2 CPUs there are three processes;
the reader needs about half a CPU, and the operating system shares the rest.

The result is the same as one process's (to_dict() and the ladders) on every committed and
public capture and on the 870k-packet benchmark file (tests/sip/test_sip_parallel.py,
/tmp/eccbench/compare.sh). Where it can differ, by construction:

- a ``capture.timestamps`` note (timestamps jumping back by more than 1 s or forward by a
  day): each worker sees the jump between its own messages, at another frame or not at all;
- captures with more than ``max_calls`` calls in flight at once (each worker holds its own
  ``max_calls``, so fewer calls are evicted early), or with more flows than the listing
  caps: which flows are listed as examples follows the order flows end, approximated here
  by their last frame (the counts, the status and the worst verdict's example stay exact);
- the idle sweep runs every 1,000 messages of each worker, so a call idle for more than
  IDLE_INVITE/IDLE_REGISTER that resumes can be cut at another point; a reliable 1xx or a
  PRACK still unanswered at the end is judged against the last INVITE-dialog message of
  its worker rather than of the capture (FAIL or WARN only when that is about 32 s away);
- two messages of different workers completed by one TCP segment: their notes and ladders
  keep worker order at that frame, not stream order;
- byte-identical copies of a message are looked for by the analyzer among the last 512
  messages of its worker: a worker that sees 1/N of the messages looks back further in
  time, so beyond about 100,000 messages/s a copy on another hop pair can be recognised
  (and left out) where one process would analyse it again. (The reader's own duplicate
  filter, for IP datagrams captured twice, sees every datagram, as in one process.)
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import multiprocessing
import operator
import os
import pickle
import select
import signal
import struct
import sys
import threading
import traceback
import types
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from ecc_doctor import cancel
from ecc_doctor.captures.flows import Flow
from ecc_doctor.captures.gctune import fewer_collections
from ecc_doctor.captures.reader import PcapEngine
from ecc_doctor.captures.records import SipMessage, SipRecord
from ecc_doctor.captures.sip.analyze import (
    LADDER_CALLS,
    LADDER_MESSAGES,
    LADDER_TOTAL,
    MAX_NOTES,
    LadderMsg,
    Progress,
    SipAnalysis,
    _Analyzer,
    analyze_records,
    duplicates_note,
    flow_order,
    more_notes,
)
from ecc_doctor.captures.sip.register import AURA_MAX_CONTACTS
from ecc_doctor.errors import CaptureError, ConfigError
from ecc_doctor.models import Finding

#: ``jobs=None``/"auto" runs more than one process on files at least this big (smaller ones
#: take less time than starting a Python process and importing ecc-doctor).
AUTO_MIN_BYTES = 64 * 1024 * 1024
#: and at most this many analysis processes (one reader feeds them all: on the 870k-packet
#: benchmark file it needs about 4 s of CPU against about 9 s of analysis, so with enough
#: CPUs more than 2 or 3 analysis processes mostly wait for it).
AUTO_MAX_JOBS = 4
#: an explicit --jobs is cut to this many processes per usable CPU (at least AUTO_MAX_JOBS)
MAX_JOBS_PER_CPU = 2
#: seconds a worker gets to exit on its own after sending its result
JOIN_TIMEOUT = 5.0


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def job_count(jobs: int | str | None, path: Path, engine: str, ladder_call_id: str | None) -> int:
    """How many processes analyse *path*: *jobs*, or for None/"auto" min(CPUs, 4) on a big
    file. Always 1 for the tshark engine, for one Call-ID's ladder, and where the pipes to
    the workers cannot be polled (not POSIX)."""
    if engine != "scapy" or ladder_call_id is not None or not hasattr(select, "poll"):
        return 1
    if jobs is None or jobs == "auto":
        try:
            big = path.stat().st_size >= AUTO_MIN_BYTES
        except OSError:
            big = False
        return min(usable_cpus(), AUTO_MAX_JOBS) if big else 1
    if isinstance(jobs, str):
        if not (jobs.isascii() and jobs.isdigit()):
            raise ConfigError(f"jobs: expected a number of processes or 'auto', got {jobs!r}")
        jobs = int(jobs)
    if jobs < 1:
        raise ConfigError(f"jobs: expected at least 1 process, got {jobs}")
    # the work is CPU-bound and every analysis process holds its own tables: more than
    # MAX_JOBS_PER_CPU per usable CPU only cost memory
    return min(jobs, max(AUTO_MAX_JOBS, MAX_JOBS_PER_CPU * usable_cpus()))


# --- running the shards -------------------------------------------------------------------


def analyze_sharded(
    path: Path,
    count: int,
    *,
    rules: Sequence[str],
    ports: tuple[int, ...],
    passwords: Mapping[str, str] | None = None,
    max_contacts: int = AURA_MAX_CONTACTS,
    progress: Progress | None = None,
    ladders: bool = True,
) -> SipAnalysis:
    """Read *path* here and analyse it in *count* worker processes, then merge.

    Every worker is stopped and joined before this returns or raises: on success, on a
    CaptureError (here or in any worker), on a worker that dies, on KeyboardInterrupt and
    on :class:`~ecc_doctor.cancel.WorkStopped` (the check timeout or ``--time-limit``).
    """
    _Analyzer(rules, None, max_contacts, 1)  # an unknown rule is a ConfigError before any work
    ctx = multiprocessing.get_context("spawn")
    workers: list[_Worker] = []
    done = False
    try:
        for index in range(count):
            inbox, feed = ctx.Pipe(duplex=False)
            results, outbox = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_worker,
                args=(inbox, outbox, (index, count), tuple(rules)),
                kwargs={
                    "passwords": dict(passwords or {}),
                    "max_contacts": max_contacts,
                    "ladders": ladders,
                },
                name=f"ecc-doctor analyze {index + 1}/{count}",
                daemon=True,
            )
            try:
                # a SIGTERM handled meanwhile is raised once the worker is in the list
                with _starting_worker():
                    proc.start()
                    workers.append(_Worker(proc, feed, results, index, count))
            finally:
                # the worker holds the other ends: EOF or EPIPE here when it dies
                inbox.close()
                outbox.close()
                if not workers or workers[-1].proc is not proc:
                    feed.close()
                    results.close()
        routed = PcapEngine(progress).sip_routed(path, ports, count, BATCH)
        # the reader allocates a few objects per message; closed explicitly when stopped
        # early (see PcapEngine.sip)
        with fewer_collections(), contextlib.closing(routed):
            for owner, batch in routed:
                workers[owner].send(batch)
        for worker in workers:
            worker.send(None)  # the end of the capture
        parts = []
        peaks = []
        for worker in workers:
            part, peak = worker.result()
            parts.append(part)
            peaks.append(peak)
        done = True
    finally:
        _stop(workers, gently=done)
    result = merge(parts)
    result.workers_peak_kib = peaks
    return result


#: records per batch sent to a worker (one pickle and one pipe write each)
BATCH = 128
#: bytes a worker's input pipe holds (Linux lets an unprivileged process ask for up to
#: /proc/sys/fs/pipe-max-size, 1 MiB by default): the reader can run ahead meanwhile
PIPE_BYTES = 1 << 20
#: milliseconds between checks for a stopped check while a worker's pipe is full
POLL_MS = 200


class _Worker:
    """One analysis process: its records go in through *feed* (our own framing, written
    without blocking), its result comes back through *results*."""

    __slots__ = ("count", "fd", "feed", "index", "poller", "proc", "results")

    def __init__(
        self, proc: BaseProcess, feed: Connection, results: Connection, index: int, count: int
    ) -> None:
        self.proc = proc
        self.feed = feed
        self.results = results
        self.index = index
        self.count = count
        self.fd = feed.fileno()
        # a full pipe makes a write return at once, so a worker that stops reading never
        # holds the reader in a write that the check's stop cannot end
        os.set_blocking(self.fd, False)
        self.poller = select.poll()  # not select(): any file descriptor number works
        self.poller.register(self.fd, select.POLLOUT)
        # a bigger pipe (Linux): fewer stalls while the two sides take turns
        with contextlib.suppress(ImportError, OSError, AttributeError, ValueError):
            import fcntl  # POSIX, as poll() is

            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def send(self, batch: list[SipRecord] | None) -> None:
        """Send *batch* (None: the end). While the pipe is full the check can still be
        stopped; a worker that has ended (an error, or killed) raises its error here."""
        if batch is None:
            packed: object = None
        elif {*map(type, batch)} == {SipMessage}:  # one C-level pass, not a generator
            # messages only, as plain tuples (pickled without SipMessage's Python reduce)
            packed = (True, [*map(_AS_TUPLE, cast("list[SipMessage]", batch))])
        else:
            packed = (False, [tuple(r) if type(r) is SipMessage else r for r in batch])
        data = pickle.dumps(packed, pickle.HIGHEST_PROTOCOL)
        cancel.raise_if_stopped()
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while True:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                pass
            except OSError:  # EPIPE: the worker has ended, and says why (or died)
                self.result()
                raise CaptureError(
                    f"analysis process {self.index + 1} of {self.count} stopped reading"
                ) from None
            if not view:
                return
            self.poller.poll(POLL_MS)  # room, or time to look at the check again
            cancel.raise_if_stopped()

    def result(self) -> tuple[SipAnalysis, int]:
        return _receive(self.proc, self.results, self.index + 1, self.count)


#: a record's fields as a plain tuple: a full slice copies them at C level, where tuple()
#: of a named tuple iterates (about half the instructions)
_AS_TUPLE = operator.itemgetter(slice(None))
#: the length of a batch's pickle, before it
_LENGTH = struct.Struct("!I")


@contextlib.contextmanager
def _starting_worker() -> Iterator[None]:
    """Start a spawn worker without the caller's main script, and deaf to Ctrl-C.

    "spawn" runs the parent's ``__main__`` file again in the child (as ``__mp_main__``) so
    that functions defined there can be unpickled. Our worker is a function of this module
    and gets only plain data, so that is not needed, and it would be harmful: a script that
    calls analyze_file() at top level without an ``if __name__ == "__main__"`` guard would
    run again in every worker. With an empty ``__main__`` while the process is started, the
    child imports just this module.

    Ctrl-C reaches the whole process group; the parent handles it and stops the workers. A
    child started while SIGINT is ignored ignores it from its first instruction (Python
    keeps an inherited SIG_IGN), so it prints no KeyboardInterrupt while it starts up.
    Signal handlers can only be changed in the main thread; elsewhere the worker ignores
    SIGINT once it runs.

    A SIGTERM handler of the caller's (``ecc-doctor analyze`` raises from it, as Ctrl-C
    does) is held back until the block ends: raised in the middle of ``proc.start()`` it
    would leave a started child that the caller does not know of, so nothing stops it.
    """
    with _STARTING:  # two checks starting workers at once must not mix up __main__
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            with _sigterm_held(), _sigint_ignored():
                yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


#: one worker start at a time in this process (see _starting_worker)
_STARTING = threading.Lock()


@contextlib.contextmanager
def _sigterm_held() -> Iterator[None]:
    """A Python SIGTERM handler, when this is the main thread and one is installed, runs
    only once the block ends (then once, if SIGTERM came meanwhile). The stand-in is a
    Python function too: a child started meanwhile gets SIGTERM's default action (exec
    resets handled signals, and only SIG_IGN would be inherited), so terminate() works."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    if not callable(handler):  # SIG_DFL or SIG_IGN: nothing to hold back
        yield
        return
    came: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, handler)
        if came:
            signal.raise_signal(signal.SIGTERM)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile, when this is the main thread (see _starting_worker)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    old_sigint = signal.getsignal(signal.SIGINT) if in_main_thread else None
    if old_sigint is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if old_sigint is not None:
            signal.signal(signal.SIGINT, old_sigint)


def _receive(
    proc: BaseProcess, conn: Connection, index: int, count: int
) -> tuple[SipAnalysis, int]:
    """The worker's (analysis, peak RSS KiB); its error re-raised here."""
    while True:
        ready = wait([conn, proc.sentinel], timeout=0.2)
        cancel.raise_if_stopped()
        if conn in ready or proc.sentinel in ready:
            break
    try:
        message = conn.recv() if conn.poll() else None
    except (EOFError, OSError):
        message = None
    if message is None:
        proc.join(JOIN_TIMEOUT)
        raise CaptureError(f"analysis process {index} of {count} died (exit code {proc.exitcode})")
    if message[0] == "ok":
        return message[1], message[2]
    _, exc, text, remote_tb = message
    if isinstance(exc, BaseException):
        raise exc from _RemoteTraceback(remote_tb)
    raise RuntimeError(f"analysis process {index} of {count} failed: {text}") from (
        _RemoteTraceback(remote_tb)
    )


class _RemoteTraceback(Exception):
    """The traceback of a worker's exception (shown as the cause with ``--debug``)."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)

    def __str__(self) -> str:
        return f"\n\nin the analysis process:\n{self.args[0]}"


def _stop(workers: Sequence[_Worker], *, gently: bool) -> None:
    """Close the pipes; terminate (unless *gently*: they are exiting) and join every worker."""
    for worker in workers:
        worker.feed.close()
        worker.results.close()
    for worker in workers:
        if not gently and worker.proc.is_alive():
            worker.proc.terminate()
            # a stopped process (SIGSTOP, a debugger) takes SIGTERM only once it runs again
            pid = worker.proc.pid
            if pid is not None and hasattr(signal, "SIGCONT"):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
    for worker in workers:
        proc = worker.proc
        proc.join(JOIN_TIMEOUT)
        if proc.is_alive():
            proc.terminate()
            proc.join(JOIN_TIMEOUT)
        if proc.is_alive():
            proc.kill()
            proc.join()
        proc.close()


def _worker(
    inbox: Connection,
    outbox: Connection,
    shard: tuple[int, int],
    rules: tuple[str, ...],
    *,
    passwords: dict[str, str],
    max_contacts: int,
    ladders: bool = True,
) -> None:
    """The worker process: analyses the records of one shard (see :func:`_run_shard`)."""
    # the parent handles Ctrl-C (see _starting_worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    _run_shard(
        inbox,
        outbox,
        shard,
        rules,
        passwords=passwords,
        max_contacts=max_contacts,
        ladders=ladders,
    )


def _run_shard(
    inbox: Connection,
    outbox: Connection,
    shard: tuple[int, int],
    rules: tuple[str, ...],
    *,
    passwords: dict[str, str],
    max_contacts: int,
    ladders: bool = True,
) -> None:
    """Analyse the records that come through *inbox* until None; send ("ok", analysis,
    peak RSS KiB) or ("error", the exception or None when it does not pickle, "Type:
    message", traceback) on *outbox*."""
    try:
        result = analyze_records(
            _records(inbox, shard),
            rules=rules,
            passwords=passwords or None,
            max_contacts=max_contacts,
            ladders=ladders,
        )
        outbox.send(("ok", result, _peak_rss_kib()))
    except BaseException as exc:  # noqa: BLE001 - every error goes to the parent
        text = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError, ValueError):  # unless the parent has gone
            outbox.send(("error", _portable(exc), text, traceback.format_exc()))
    finally:
        inbox.close()
        outbox.close()


def _records(inbox: Connection, shard: tuple[int, int]) -> Iterator[SipRecord]:
    """The records the reader sends (:meth:`_Worker.send`), batch by batch, until its None."""
    make = SipMessage._make
    new = functools.partial(tuple.__new__, SipMessage)  # make() without its Python frame
    size = _LENGTH.size
    with open(inbox.fileno(), "rb", closefd=False) as pipe:
        while True:
            head = pipe.read(size)
            want = _LENGTH.unpack(head)[0] if len(head) == size else -1
            data = pipe.read(want) if want > 0 else b""
            if len(data) != want:  # the pipe ended: the reader is gone, or cut a batch short
                raise CaptureError(
                    f"analysis process {shard[0] + 1} of {shard[1]}: the reading process has gone"
                )
            packed = pickle.loads(data)
            if packed is None:
                return
            plain, batch = packed
            if plain:  # messages only (every field is in each tuple)
                yield from map(new, batch)
            else:
                for rec in batch:
                    yield make(rec) if type(rec) is tuple else rec


def _portable(exc: BaseException) -> BaseException | None:
    """*exc* if it survives pickling (then the caller gets its own type and message)."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception type may fail to pickle
        return None
    return copy if isinstance(copy, BaseException) else None


def _exit_with_parent() -> None:
    """A worker whose parent was killed (SIGKILL: no chance to stop it) exits at once."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _peak_rss_kib() -> int:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the spawning parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# --- merging ------------------------------------------------------------------------------


def merge(parts: Sequence[SipAnalysis]) -> SipAnalysis:
    """The shards' results as one (what one process would list, see the module doc)."""
    out = SipAnalysis(rules=parts[0].rules)
    for part in parts:
        out.messages += part.messages
        out.duplicates += part.duplicates
        out.unparsed += part.unparsed
        out.flows_total += part.flows_total
        _add(out.counts, part.counts)
    _merge_flows(out, parts)
    _merge_notes(out, parts)
    _merge_ladders(out, parts)
    return out


def _add(total: dict[str, int], part: Mapping[str, int]) -> None:
    for key, n in part.items():
        total[key] = total.get(key, 0) + n


def _merge_flows(out: SipAnalysis, parts: Sequence[SipAnalysis]) -> None:
    """Re-cap the listed flows of all shards as one process caps them.

    The flows are offered in the order they ended (their last frame, which is close to the
    order a process finishes them), to the same listing code as in a single process, so at
    the caps a worse verdict takes a milder one's place there too.
    """
    capper = _Analyzer(parts[0].rules, None, AURA_MAX_CONTACTS, 1)
    listed = heapq.merge(
        *(
            [(_last_frame(f), i, f) for f in sorted(p.flows, key=_last_frame)]
            for i, p in enumerate(parts)
        ),
        key=lambda item: (item[0], item[1]),
    )
    for _, _, flow in listed:
        capper._keep(flow)
    out.flows = capper.result.flows
    out.flows.sort(key=flow_order)
    out.flows_not_listed = capper.result.flows_not_listed
    out.not_listed = dict(capper.result.not_listed)
    for part in parts:
        out.flows_not_listed += part.flows_not_listed
        _add(out.not_listed, part.not_listed)


def _last_frame(flow: Flow) -> int:
    return flow.frames[-1] if flow.frames else 0


def _merge_notes(out: SipAnalysis, parts: Sequence[SipAnalysis]) -> None:
    """The notes in frame order, MAX_NOTES per rule and the "more ... not listed" note at the
    place of the first one beyond (a shard's own marker stands for its next note)."""
    merged = heapq.merge(
        *(
            [
                (at, i, note)
                for note, at in zip(p.notes, p.note_frames, strict=True)
                if note.rule != "capture.duplicates"  # made again from the summed count
            ]
            for i, p in enumerate(parts)
        ),
        key=lambda item: (item[0], item[1]),
    )
    seen: dict[str, int] = {}
    for at, _, note in merged:
        n = seen.get(note.rule, 0)
        if n > MAX_NOTES:
            continue
        seen[note.rule] = n + 1
        out.notes.append(note if n < MAX_NOTES else more_notes(note.rule))
        out.note_frames.append(at)
    if out.duplicates:
        rule, severity, message, frames = duplicates_note(out.duplicates)
        out.notes.append(Finding(rule, severity, message, frames))
        out.note_frames.append(out.note_frames[-1] if out.note_frames else 0)


def _merge_ladders(out: SipAnalysis, parts: Sequence[SipAnalysis]) -> None:
    """All ladders, least recently active first (by their last arrow), then the oldest
    dropped until LADDER_CALLS and LADDER_TOTAL hold, as one process drops them.

    A Call-ID can have a ladder in two shards: its REGISTERs are shard 0's, its other
    messages (a BYE, say) live by the Call-ID. Its arrows are then merged in frame order.
    """
    last: dict[str, tuple[int, int]] = {}  # Call-ID -> (last arrow's frame, shard)
    arrows: dict[str, list[LadderMsg]] = {}
    for i, part in enumerate(parts):
        for call, lst in part.ladders.items():
            place = (lst[-1].frame, i)
            have = arrows.get(call)
            if have is None:
                arrows[call] = lst
            else:
                both = heapq.merge(have, lst, key=lambda m: m.frame)
                arrows[call] = list(itertools.islice(both, LADDER_MESSAGES))
                place = max(place, last[call])
            last[call] = place
    ladders: OrderedDict[str, list[LadderMsg]] = OrderedDict()
    total = 0
    for call in sorted(last, key=last.__getitem__):
        ladders[call] = arrows[call]
        total += len(arrows[call])
    while len(ladders) > 1 and (len(ladders) > LADDER_CALLS or total > LADDER_TOTAL):
        total -= len(ladders.popitem(last=False)[1])
    out.ladders = ladders
