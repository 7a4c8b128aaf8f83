import { commandLine } from '../engine/shell-quote.js';
import type { HostSnapshot, WorkerProcess } from '../engine/worker-snapshot.js';

/**
 * One short remote command that reads the master and its workers from /proc:
 * PIDs, process titles (which carry the group name) and start times. It takes
 * a few milliseconds, unlike `status`, which always waits a second, so it is
 * what each poll runs. PHP is on every Workerman host, which spares us from
 * depending on ps or awk flavours.
 *
 * The master is found by its title, `...: master process  start_file=<path>`,
 * with the start file's real path, because PHP resolves symlinks in the path
 * it reports; the pid file is the fallback for masters with custom titles.
 */
const PROBE_SCRIPT = String.raw`
$sf = $argv[1]; $real = realpath($sf) ?: $sf; $pidFile = $argv[2];
$up = (float) explode(' ', file_get_contents('/proc/uptime'))[0];
$procs = [];
foreach (scandir('/proc') as $d) {
  if (!preg_match('/^\d+$/', $d)) continue;
  $stat = @file_get_contents("/proc/$d/stat"); if ($stat === false) continue;
  $f = explode(' ', substr($stat, strrpos($stat, ')') + 2));
  $cmd = @file_get_contents("/proc/$d/cmdline");
  $title = trim(str_replace("\0", ' ', (string) $cmd));
  $procs[(int) $d] = ['pid' => (int) $d, 'ppid' => (int) $f[1], 'state' => $f[0], 'start' => (int) $f[19], 'title' => $title];
}
$masters = [];
foreach ($procs as $p) {
  if (preg_match('/: master process\s+start_file=(.+)$/', $p['title'], $m) && ($m[1] === $real || $m[1] === $sf)) $masters[] = $p;
}
if (!$masters && is_file($pidFile)) {
  $pid = (int) trim((string) @file_get_contents($pidFile));
  if (isset($procs[$pid])) $masters[] = $procs[$pid];
}
$workers = [];
foreach ($masters as $m) foreach ($procs as $p) if ($p['ppid'] === $m['pid']) $workers[] = $p;
echo json_encode(['uptime' => $up, 'masters' => $masters, 'workers' => $workers]), "\n";
`;

export function probeCommand(php: string, startFile: string, pidFile: string): string {
  return commandLine([php, '-n', '-r', PROBE_SCRIPT, '--', startFile, pidFile]);
}

interface RawProcess {
  pid: number;
  ppid: number;
  state: string;
  start: number;
  title: string;
}

/** Linux exposes start times in USER_HZ ticks, which is 100 on every architecture Workerman runs on. */
const TICKS_PER_SECOND = 100;

const WORKER_TITLE = /: worker process\s+(.*) (\S+)$/;

export function parseWorkerTitle(title: string): { group: string; listen: string } | null {
  const match = WORKER_TITLE.exec(title);
  return match ? { group: match[1]!, listen: match[2]! } : null;
}

export class ProbeParseError extends Error {}

export function parseProbeOutput(stdout: string): HostSnapshot {
  let data: { uptime: number; masters: RawProcess[]; workers: RawProcess[] };
  try {
    data = JSON.parse(stdout.trim());
  } catch {
    throw new ProbeParseError(`the process probe printed something that is not JSON: ${stdout.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (typeof data?.uptime !== 'number' || !Array.isArray(data.masters) || !Array.isArray(data.workers)) {
    throw new ProbeParseError('the process probe printed JSON of an unexpected shape');
  }
  const workers: WorkerProcess[] = data.workers
    .filter((process) => process.state !== 'Z')
    .map((process) => ({
      pid: process.pid,
      group: parseWorkerTitle(process.title)?.group ?? process.title,
      startedAt: process.start / TICKS_PER_SECOND,
    }));
  return {
    at: data.uptime,
    masters: data.masters.map((master) => ({ pid: master.pid, startedAt: master.start / TICKS_PER_SECOND })),
    workers,
  };
}
