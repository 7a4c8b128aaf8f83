import { commandLine } from '../engine/shell-quote.js';

/**
 * One short remote command per poll. It reads, in one PHP process:
 * - the master and its workers from /proc (PIDs, process titles that carry
 *   the group name, start times), which takes milliseconds, unlike `status`,
 *   which always waits a second;
 * - the app log's bytes past an offset, so the watch sees the master's
 *   "reloading" line and the PHP errors of a crash loop as they are written;
 * - optionally, the app's JSON status URL, fetched on the host itself so a
 *   status port bound to 127.0.0.1 works.
 * PHP is on every Workerman host, which spares us from ps and awk flavours.
 *
 * The master is found by its title `...: master process  start_file=<path>`
 * with the start file's real path (PHP resolves symlinks in the path it
 * shows). Every `php start.php <command>` process (status, reload) carries
 * that title too while it runs, so a candidate counts only if it is the
 * master already known, the pid in the pid file, or the parent of workers.
 * The pid file alone is the fallback for masters with custom titles. A master
 * in another mount namespace (a container sharing the PID namespace) runs
 * another file that merely has the same path, so it is skipped. Children not
 * yet titled as workers (just forked) are not counted.
 */
const PROBE_SCRIPT = String.raw`
$sf = $argv[1]; $pidFile = $argv[2]; $logFile = $argv[3]; $logOffset = (int) $argv[4];
$url = $argv[5]; $urlTimeout = (float) $argv[6]; $known = (int) $argv[7];
$real = realpath($sf) ?: $sf;
$up = explode(' ', file_get_contents('/proc/uptime'));
$out = array('uptime' => (float) $up[0], 'time' => microtime(true));
$procs = array();
foreach (scandir('/proc') as $d) {
  if (!preg_match('/^\d+$/', $d)) continue;
  $stat = @file_get_contents("/proc/$d/stat"); if ($stat === false) continue;
  $f = explode(' ', substr($stat, strrpos($stat, ')') + 2));
  $title = trim(str_replace("\0", ' ', (string) @file_get_contents("/proc/$d/cmdline")));
  $procs[(int) $d] = array('pid' => (int) $d, 'ppid' => (int) $f[1], 'state' => $f[0], 'start' => (int) $f[19], 'title' => $title);
}
$ns = @readlink('/proc/self/ns/mnt');
$candidates = array();
foreach ($procs as $p) {
  if ($p['state'] === 'Z' || !preg_match('/: master process\s+start_file=(.+)$/', $p['title'], $m) || ($m[1] !== $real && $m[1] !== $sf)) continue;
  $theirs = @readlink("/proc/{$p['pid']}/ns/mnt");
  if ($ns !== false && $theirs !== false && $theirs !== $ns) continue;
  $candidates[$p['pid']] = $p;
}
$isWorker = function ($p) { return $p['state'] !== 'Z' && preg_match('/: worker process\s/', $p['title']); };
$parents = array();
foreach ($procs as $p) if ($isWorker($p)) $parents[$p['ppid']] = true;
$filePid = is_file($pidFile) ? (int) trim((string) @file_get_contents($pidFile)) : 0;
$masters = array();
foreach ($candidates as $pid => $p) {
  if ($pid === $known || $pid === $filePid || isset($parents[$pid])) $masters[] = $p;
}
if (!$masters && isset($procs[$filePid]) && $procs[$filePid]['state'] !== 'Z') $masters[] = $procs[$filePid];
if (count($masters) > 1) {
  // Mount namespaces may be unreadable to the deploy user; the pid file then tells our master apart.
  $mine = array_values(array_filter($masters, function ($p) use ($filePid) { return $p['pid'] === $filePid; }));
  if ($mine) $masters = $mine;
}
$workers = array();
foreach ($masters as $m) foreach ($procs as $p) if ($p['ppid'] === $m['pid'] && $isWorker($p)) $workers[] = $p;
$out['masters'] = $masters; $out['workers'] = $workers;
if ($logFile !== '' && is_file($logFile) && is_readable($logFile)) {
  clearstatcache(); $size = filesize($logFile); $text = '';
  if ($logOffset >= 0 && $size > $logOffset && ($h = @fopen($logFile, 'r'))) {
    fseek($h, $logOffset); $text = (string) fread($h, min(65536, $size - $logOffset)); fclose($h); $size = $logOffset + strlen($text);
  } elseif ($logOffset > $size) { $size = 0; }
  $out['log'] = array('end' => $size, 'text' => $text);
}
if ($url !== '') {
  $ctx = stream_context_create(array('http' => array('timeout' => $urlTimeout, 'ignore_errors' => true)));
  $body = @file_get_contents($url, false, $ctx);
  if ($body === false) { $e = error_get_last(); $out['http'] = array('error' => $e ? $e['message'] : 'no answer'); }
  else {
    $code = isset($http_response_header[0]) && preg_match('/\s(\d{3})\s?/', $http_response_header[0], $c) ? (int) $c[1] : 0;
    $out['http'] = array('status' => $code, 'body' => substr($body, 0, 1048576));
    $j = json_decode($body, true);
    if (is_array($j) && isset($j['master_pid']) && is_int($j['master_pid'])) {
      $mp = $j['master_pid']; $out['http']['master_alive'] = isset($procs[$mp]) && $procs[$mp]['state'] !== 'Z';
    }
  }
}
echo json_encode($out, defined('JSON_INVALID_UTF8_SUBSTITUTE') ? JSON_INVALID_UTF8_SUBSTITUTE : JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
`;

export interface ProbeOptions {
  readonly php: string;
  readonly startFile: string;
  readonly pidFile: string;
  /** Absolute path of the app log, or '' when none is known. */
  readonly logFile: string;
  /** Read the log from this byte offset; -1 reads nothing but its size. */
  readonly logOffset: number;
  readonly statusUrl: string;
  readonly urlTimeoutMs: number;
  /** The master found before (0 if none yet): it stays the master while it lives, children or not. */
  readonly knownMaster: number;
}

export function probeCommand(options: ProbeOptions): string {
  return commandLine([
    options.php,
    // Not -n: on PHP 7 packages json is a shared extension loaded from the ini files.
    '-d',
    'display_errors=stderr',
    '-r',
    PROBE_SCRIPT,
    '--',
    options.startFile,
    options.pidFile,
    options.logFile,
    String(options.logOffset),
    options.statusUrl,
    String(options.urlTimeoutMs / 1000),
    String(options.knownMaster),
  ]);
}

export interface RawProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  /** Start time in clock ticks after boot. */
  readonly start: number;
  readonly title: string;
}

export interface ProbeResult {
  /** Host uptime, seconds. */
  readonly uptime: number;
  /** Host Unix time, seconds. */
  readonly time: number;
  readonly masters: readonly RawProcess[];
  readonly workers: readonly RawProcess[];
  readonly log?: { readonly end: number; readonly text: string };
  readonly http?: { readonly status?: number; readonly body?: string; readonly error?: string; readonly master_alive?: boolean };
}

export class ProbeParseError extends Error {}

export function parseProbeOutput(stdout: string): ProbeResult {
  let data: ProbeResult;
  try {
    data = JSON.parse(stdout.trim());
  } catch {
    throw new ProbeParseError(`the host probe printed something that is not JSON: ${stdout.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (typeof data?.uptime !== 'number' || !Array.isArray(data.masters) || !Array.isArray(data.workers)) {
    throw new ProbeParseError('the host probe printed JSON of an unexpected shape');
  }
  return data;
}

/** Linux exposes start times in USER_HZ ticks, which is 100 on every architecture Workerman runs on. */
export const TICKS_PER_SECOND = 100;

const WORKER_TITLE = /: worker process\s+(.*) (\S+)$/;

export function parseWorkerTitle(title: string): { group: string; listen: string } | null {
  const match = WORKER_TITLE.exec(title);
  return match ? { group: match[1]!, listen: match[2]! } : null;
}
