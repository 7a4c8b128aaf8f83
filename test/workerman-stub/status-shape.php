<?php
/**
 * Checks that a `php start.php status` output has the shape of Workerman's
 * status table (version 5: like /work/shared/workerman/samples/status-v5-*.txt;
 * version 4: the 4.x layout) and prints what it found as JSON.
 *
 *   php status-shape.php <status-output-file> <4|5> [sample-file]
 *
 * With a sample file (v5), the dash lines and the exit-table header must be
 * byte-identical to the sample's, and so must the process header when the
 * listen addresses have the same lengths as the sample's.
 * Exit code 0 = shape ok, 1 = mismatch (reasons on stderr).
 */

$file = $argv[1] ?? '';
$flavour = $argv[2] ?? '5';
$sampleFile = $argv[3] ?? '';
$lines = @file($file, FILE_IGNORE_NEW_LINES);
if (!$lines) {
    fwrite(STDERR, "cannot read $file\n");
    exit(1);
}
$errors = [];
$err = function (int $i, string $why) use (&$errors, &$lines) {
    $errors[] = sprintf('line %d: %s: %s', $i + 1, $why, json_encode($lines[$i] ?? null));
};

/** token => offset list for a line (offsets counted after the first tab if $afterTab). */
function offsets(string $line, bool $afterTab): array
{
    if ($afterTab) {
        $p = strpos($line, "\t");
        $line = $p === false ? $line : substr($line, $p + 1);
    }
    preg_match_all('/\S+/', $line, $m, PREG_OFFSET_CAPTURE);
    return array_map(fn($t) => $t[1], $m[0]);
}

$sample = $sampleFile ? file($sampleFile, FILE_IGNORE_NEW_LINES) : null;
$i = 0;
if (!preg_match('/^Workerman\[[^\]]+\] status$/', $lines[$i] ?? '')) {
    $err($i, 'first line');
}
$i++;
if ($flavour === '5') {
    if (!preg_match('/^Start worker in (DAEMON|DEBUG) mode\.$/', $lines[$i] ?? '')) {
        $err($i, 'mode line');
    }
    $i++;
    $gDash = str_repeat('-', 51) . 'GLOBAL STATUS' . str_repeat('-', 57);
    $pDash = str_repeat('-', 51) . 'PROCESS STATUS' . str_repeat('-', 56);
} else {
    $gDash = str_repeat('-', 46) . 'GLOBAL STATUS' . str_repeat('-', 52);
    $pDash = str_repeat('-', 46) . 'PROCESS STATUS' . str_repeat('-', 51);
}
if ($sample) {
    $gDash = $sample[2];
    $pDash = $sample[10];
}
if (($lines[$i] ?? '') !== $gDash) {
    $err($i, 'GLOBAL STATUS line');
}
$i++;
if ($flavour === '5') {
    $l = $lines[$i] ?? '';
    if (!preg_match('#^Workerman/5\.\d+\.\d+ +PHP/\S+ \(JIT o(n|ff)\) +\S+/\S+$#', $l)
        || strpos($l, 'PHP/') !== 24 || !preg_match('#^.{54}\S+/\S+$#', $l)) {
        $err($i, 'version line');
    }
    $i++;
    if (!preg_match('/^start time:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d   run \d+ days \d+ hours   load average: [\d.]+, [\d.]+, [\d.]+$/', $lines[$i] ?? '')) {
        $err($i, 'start time line');
    }
    $i++;
    if (!preg_match('/^(\d+) workers    (\d+) processes$/', $lines[$i] ?? '', $m)) {
        $err($i, 'workers line');
    }
    $i++;
    $exitHeader = $lines[$i] ?? '';
    if (!preg_match('/^name +event-loop +exit_status +exit_count$/', $exitHeader)
        || ($sample && $exitHeader !== $sample[6])) {
        $err($i, 'exit header');
    }
} else {
    if (!preg_match('/^Workerman version:4\.\d+\.\d+ {10}PHP version:\S+$/', $lines[$i] ?? '')) {
        $err($i, 'version line');
    }
    $i++;
    if (!preg_match('/^start time:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d   run \d+ days \d+ hours   $/', $lines[$i] ?? '')) {
        $err($i, 'start time line');
    }
    $i++;
    if (!preg_match('/^load average: [\d.]+, [\d.]+, [\d.]+ +event-loop:\S+$/', $lines[$i] ?? '')
        || strpos($lines[$i], 'event-loop:') < 33) {
        $err($i, 'load average line');
    }
    $i++;
    if (!preg_match('/^(\d+) workers {7}(\d+) processes$/', $lines[$i] ?? '', $m)) {
        $err($i, 'workers line');
    }
    $i++;
    $exitHeader = $lines[$i] ?? '';
    if (!preg_match('/^worker_name +exit_status {6}exit_count$/', $exitHeader)) {
        $err($i, 'exit header');
    }
}
$processCount = isset($m[2]) ? (int)$m[2] : -1;
$exitOffsets = offsets($exitHeader, false);
$i++;
$exitRows = [];
while (isset($lines[$i]) && $lines[$i] !== $pDash) {
    $l = $lines[$i];
    $ok = $flavour === '5'
        ? preg_match('/^(\S+) +select +(\d+) +(\d+) +$/', $l, $r)
        : preg_match('/^(\S+) +(\d+) +(\d+)$/', $l, $r);
    if (!$ok) {
        $err($i, 'exit row');
    } else {
        $want = $flavour === '5' ? $exitOffsets : [$exitOffsets[0], $exitOffsets[1], $exitOffsets[2]];
        if (offsets($l, false) !== $want) {
            $err($i, 'exit row columns not under the header');
        }
        if ($flavour === '5' && strlen($l) !== $exitOffsets[3] + 16) {
            $err($i, 'exit row width');
        }
        $exitRows[] = ['name' => $r[1], 'exit_status' => (int)$r[2], 'exit_count' => (int)$r[3]];
    }
    $i++;
}
if (($lines[$i] ?? '') !== $pDash) {
    $err($i, 'PROCESS STATUS line');
}
$i++;
$header = $lines[$i] ?? '';
$nameCol = $flavour === '5' ? 'name' : 'worker_name';
if (!preg_match("/^pid\\tmemory  listening +$nameCol +connections send_fail timers  total_request qps    status$/", $header)) {
    $err($i, 'process header');
}
if ($sample && $flavour === '5' && strlen($header) === strlen($sample[11]) && $header !== $sample[11]) {
    $err($i, 'process header differs from the sample');
}
$hOff = offsets($header, true);
$i++;
$groups = [];
$rows = [];
while (isset($lines[$i]) && $lines[$i] !== $pDash) {
    $l = $lines[$i];
    if (preg_match('/^(\d+)\t(\d+(?:\.\d+)?M) +(\S+) +(\S+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +\[idle\]$/', $l, $r)) {
        $rows[] = ['pid' => (int)$r[1], 'listen' => $r[3], 'name' => $r[4], 'connections' => (int)$r[5],
            'total_request' => (int)$r[8], 'status' => 'idle'];
    } elseif (preg_match('/^(\d+)\tN\/A +(\S+) +(\S+) +N\/A +N\/A +N\/A +N\/A +N\/A +\[busy\] $/', $l, $r)) {
        $rows[] = ['pid' => (int)$r[1], 'listen' => $r[2], 'name' => $r[3], 'status' => 'busy'];
    } else {
        $err($i, 'process row');
        $i++;
        continue;
    }
    if (offsets($l, true) !== $hOff) {
        $err($i, 'process row columns not under the header');
    }
    $name = end($rows)['name'];
    $groups[$name] = ($groups[$name] ?? 0) + 1;
    $i++;
}
if (($lines[$i] ?? '') !== $pDash) {
    $err($i, 'second PROCESS STATUS line');
}
$i++;
$summary = $lines[$i] ?? '';
if (!preg_match('/^Summary\t\d+(\.\d+)?M +- +- +\d+ +\d+ +\d+ +\d+ +\d+ +\[Summary\] $/', $summary)) {
    $err($i, 'Summary row');
} elseif (offsets($summary, true) !== $hOff) {
    $err($i, 'Summary columns not under the header');
}
if (isset($lines[$i + 1]) && trim(implode('', array_slice($lines, $i + 1))) !== '') {
    $err($i + 1, 'trailing text');
}
$pids = array_column($rows, 'pid');
$sorted = $pids;
sort($sorted);
if ($pids !== $sorted) {
    $errors[] = 'process rows are not sorted by pid';
}
if ($processCount >= 0 && $processCount !== count($rows)) {
    $errors[] = "workers line says $processCount processes, table has " . count($rows);
}
echo json_encode(['groups' => $groups, 'exit' => $exitRows, 'rows' => $rows]), "\n";
if ($errors) {
    fwrite(STDERR, implode("\n", $errors) . "\n");
    exit(1);
}
exit(0);
