import type { HostSnapshot, WorkerProcess } from '../engine/workers/worker-snapshot.js';
import { parseWorkerTitle, TICKS_PER_SECOND, type ProbeResult, type RawProcess } from '../workerman/host-probe.js';
import type { HttpStatus } from './http-contract.js';

/**
 * Turns what one poll read into a HostSnapshot. Pure, so each source's rules
 * (which clock, which figures win) are tested without a host. All times are
 * Unix seconds on the host's clock: /proc start times are converted with the
 * host's own boot time (Unix time minus uptime, both read in the same probe).
 */

const PROC_STATES: Record<string, string> = { R: 'running', S: 'sleeping', D: 'waiting on I/O', T: 'stopped', t: 'traced' };

function startedAt(probe: ProbeResult, process: RawProcess): number {
  return probe.time - probe.uptime + process.start / TICKS_PER_SECOND;
}

function evidenceField(reloadStarted: boolean | undefined): Pick<HostSnapshot, 'reloadStarted'> {
  return reloadStarted === undefined ? {} : { reloadStarted };
}

/**
 * `workerman` and `process` sources: /proc for PIDs, start times and what
 * each worker is doing. Crashes show as PID churn (and, with the app log, its
 * "exit with status" lines), never from Workerman's `status`, whose signal
 * kills workers just forked or stopping.
 */
export function snapshotFromProcesses(probe: ProbeResult, reloadStarted: boolean | undefined): HostSnapshot {
  const workers: WorkerProcess[] = probe.workers
    .filter((process) => process.state !== 'Z')
    .map((process) => {
      const title = parseWorkerTitle(process.title);
      return {
        pid: process.pid,
        group: title?.group ?? process.title,
        ...(title ? { listen: title.listen } : {}),
        startedAt: startedAt(probe, process),
        activity: PROC_STATES[process.state] ?? process.state,
      };
    });
  return {
    at: probe.time,
    masters: probe.masters.filter((master) => master.state !== 'Z').map((master) => ({ pid: master.pid, startedAt: startedAt(probe, master) })),
    ...(probe.elsewhere?.length ? { elsewhere: probe.elsewhere } : {}),
    workers,
    ...evidenceField(reloadStarted),
  };
}

/**
 * `http` source: the app's JSON, filled in from /proc where it is silent (no
 * name, no start time). A master_pid the probe found dead counts as no master.
 */
export function snapshotFromHttp(probe: ProbeResult, status: HttpStatus, reloadStarted: boolean | undefined): HostSnapshot {
  const processes = new Map(probe.workers.map((process) => [process.pid, process]));
  const workers: WorkerProcess[] = status.workers.map((worker) => {
    const process = processes.get(worker.pid);
    let started: number;
    if (worker.startedAt === undefined) started = process ? startedAt(probe, process) : probe.time;
    // Whole seconds: the worker may have started anywhere in that second, after the signal too.
    else started = Number.isInteger(worker.startedAt) ? worker.startedAt + 0.999 : worker.startedAt;
    const title = process ? parseWorkerTitle(process.title) : null;
    return {
      ...worker,
      group: worker.group ?? title?.group ?? 'workers',
      ...(title ? { listen: title.listen } : {}),
      startedAt: started,
    };
  });
  const found = probe.masters.map((master) => ({ pid: master.pid, startedAt: startedAt(probe, master) }));
  const masters =
    status.masterPid === undefined ? found
    : probe.http?.master_alive === false ? []
    : [found.find((master) => master.pid === status.masterPid) ?? { pid: status.masterPid }];
  return { at: probe.time, masters, workers, ...evidenceField(reloadStarted) };
}
