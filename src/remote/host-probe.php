<?php
/*
 * graceful-reload's host probe, resident: started once per host as `php -r`
 * (the opening tag is stripped) with the app's paths after `--`, it answers
 * each line on stdin ("<log offset> <known master pid>") with one line of
 * JSON, until stdin ends. A poll then costs a round trip, not a PHP start.
 * See src/workerman/host-probe.ts for what it reads and why. PHP 7.2+.
 */
/** One process from /proc, or null when it is gone. $up: the host's uptime, for the title cache. */
function graceful_reload_process($pid, $up) {
  // Titles of processes older than 2 s, by pid and start time, kept between polls: reading every
  // cmdline was half of a poll's cost. Workerman titles a process as it starts and never again.
  static $settled = array();
  $stat = @file_get_contents("/proc/$pid/stat"); if ($stat === false) return null;
  $f = explode(' ', substr($stat, strrpos($stat, ')') + 2));
  $key = "$pid:{$f[19]}";
  $title = isset($settled[$key]) ? $settled[$key] : trim(str_replace("\0", ' ', (string) @file_get_contents("/proc/$pid/cmdline")));
  if ($up - (int) $f[19] / 100 > 2) {
    if (count($settled) > 4096) $settled = array();
    $settled[$key] = $title;
  }
  return array('pid' => (int) $pid, 'ppid' => (int) $f[1], 'state' => $f[0], 'start' => (int) $f[19], 'title' => $title);
}

/** The start file a live master process runs, from its title; null for any other process. */
function graceful_reload_master_file($p) {
  return $p['state'] !== 'Z' && preg_match('/: master process\s+start_file=(.+)$/', $p['title'], $m) ? $m[1] : null;
}

function graceful_reload_is_worker($p) {
  return $p['state'] !== 'Z' && preg_match('/: worker process\s/', $p['title']);
}

/**
 * The known master and its workers from its own children list, without
 * reading every process: null unless the master still lives with our start
 * file's title and the kernel lists its children. The kernel may skip a
 * child in that list while another exits (as workers do all through a
 * reload), and a worker missing from one poll would count as one that died:
 * the children of the last poll are looked up again by pid.
 */
function graceful_reload_known_family($known, $sf, $real, $up) {
  static $lastChildren = array();
  if ($known <= 0) return null;
  $master = graceful_reload_process($known, $up);
  $file = $master ? graceful_reload_master_file($master) : null;
  if ($file !== $real && $file !== $sf) return null;
  $children = @file_get_contents("/proc/$known/task/$known/children");
  if ($children === false) return null;
  $pids = array_unique(array_merge(preg_split('/\s+/', trim($children), -1, PREG_SPLIT_NO_EMPTY), isset($lastChildren[$known]) ? $lastChildren[$known] : array()));
  $workers = array();
  $alive = array();
  foreach ($pids as $pid) {
    $p = graceful_reload_process($pid, $up);
    if (!$p || $p['ppid'] !== $known || $p['state'] === 'Z') continue;
    $alive[] = $pid;
    if (graceful_reload_is_worker($p)) $workers[] = $p;
  }
  $lastChildren = array($known => $alive);
  return array('masters' => array($master), 'workers' => $workers, 'elsewhere' => array());
}

/** Every process read: the masters of our start file (see host-probe.ts for which count), their workers, and masters elsewhere. */
function graceful_reload_family($sf, $real, $pidFile, $known, $up) {
  $procs = array();
  foreach (scandir('/proc') as $d) {
    if (ctype_digit($d) && ($p = graceful_reload_process($d, $up))) $procs[(int) $d] = $p;
  }
  $ns = @readlink('/proc/self/ns/mnt');
  $candidates = array();
  // Masters of a start file with the same name elsewhere: after a symlink release switch, ours runs the old path.
  $others = array();
  foreach ($procs as $p) {
    $file = graceful_reload_master_file($p);
    if ($file === null) continue;
    $theirs = @readlink("/proc/{$p['pid']}/ns/mnt");
    if ($ns !== false && $theirs !== false && $theirs !== $ns) continue;
    if ($file === $real || $file === $sf) $candidates[$p['pid']] = $p;
    // Only where the start file's path goes through a symlink: otherwise it is another app's master.
    elseif ($real !== $sf && basename($file) === basename($sf)) $others[$p['pid']] = $p + array('startFile' => $file);
  }
  $parents = array();
  foreach ($procs as $p) if (graceful_reload_is_worker($p)) $parents[$p['ppid']] = true;
  $filePid = is_file($pidFile) ? (int) trim((string) @file_get_contents($pidFile)) : 0;
  $masters = array();
  foreach ($candidates as $pid => $p) {
    if ($pid === $known || $pid === $filePid || isset($parents[$pid])) $masters[] = $p;
  }
  if (!$masters && isset($procs[$filePid]) && $procs[$filePid]['state'] !== 'Z') {
    // A pid file copied along with a release names the old release's master: that one runs another start file.
    if (isset($others[$filePid])) $others[$filePid]['pidFile'] = true;
    else $masters[] = $procs[$filePid];
  }
  if (count($masters) > 1) {
    // Mount namespaces may be unreadable to the deploy user; the pid file then tells our master apart.
    $mine = array_values(array_filter($masters, function ($p) use ($filePid) { return $p['pid'] === $filePid; }));
    if ($mine) $masters = $mine;
  }
  $workers = array();
  foreach ($masters as $m) foreach ($procs as $p) if ($p['ppid'] === $m['pid'] && graceful_reload_is_worker($p)) $workers[] = $p;
  $elsewhere = array();
  if (!$masters) foreach ($others as $pid => $p) if (isset($parents[$pid]) || isset($p['pidFile'])) $elsewhere[] = array('pid' => $pid, 'startFile' => $p['startFile']);
  return array('masters' => $masters, 'workers' => $workers, 'elsewhere' => $elsewhere);
}

function graceful_reload_probe($sf, $pidFile, $logFile, $logOffset, $url, $urlTimeout, $known) {
  // A release switch or a rewritten pid file must show at the next poll.
  clearstatcache(true);
  $real = realpath($sf) ?: $sf;
  $up = explode(' ', file_get_contents('/proc/uptime'));
  $out = array('uptime' => (float) $up[0], 'time' => microtime(true));
  $family = graceful_reload_known_family($known, $sf, $real, (float) $up[0]);
  $out += $family ?: graceful_reload_family($sf, $real, $pidFile, $known, (float) $up[0]);
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
        $mp = graceful_reload_process($j['master_pid'], (float) $up[0]); $out['http']['master_alive'] = $mp !== null && $mp['state'] !== 'Z';
      }
    }
  }
  return $out;
}

$flags = defined('JSON_INVALID_UTF8_SUBSTITUTE') ? JSON_INVALID_UTF8_SUBSTITUTE : JSON_PARTIAL_OUTPUT_ON_ERROR;
while (($request = fgets(STDIN)) !== false) {
  $asked = explode(' ', trim($request));
  $known = isset($asked[1]) ? (int) $asked[1] : 0;
  $out = graceful_reload_probe($argv[1], $argv[2], $argv[3], (int) $asked[0], $argv[4], (float) $argv[5], $known);
  echo json_encode($out, $flags), "\n";
}
