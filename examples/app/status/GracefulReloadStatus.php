<?php
/**
 * Status worker for graceful-reload's `status: http` source.
 *
 * Serves, on every GET to its path, the JSON document graceful-reload reads:
 *
 *   {"master_pid": 123, "workers": [{"pid": 456, "name": "web", "reloadable": true,
 *     "started_at": 1795238292.123456, "revision": "abc123"}]}
 *
 * Usage in a Workerman start file, after every Worker and its callbacks are
 * defined and before Worker::runAll():
 *
 *   require_once __DIR__ . '/status/GracefulReloadStatus.php';
 *   \GracefulReload\StatusWorker::track($web, $gateway, $task);
 *   \GracefulReload\StatusWorker::listen('http://127.0.0.1:9090');   // GET /status
 *   Worker::runAll();
 *
 * How it works
 *   - track() wraps each worker's onWorkerStart. The very first thing a new
 *     worker process does (before the app's own onWorkerStart, so a worker
 *     whose app code crashes at start is still seen for the moment it lives)
 *     is to write <registry dir>/<pid>.json: pid, name, reloadable,
 *     started_at (microtime(true)) and revision (the trimmed REVISION file of
 *     the app directory, read at that moment, so a reload picks up a newly
 *     deployed REVISION; left out when there is no such file). The file is
 *     written to a temp name and renamed into place.
 *   - A worker's entry is removed when its process exits (a shutdown
 *     function), not when onWorkerStop runs: in a graceful stop Workerman
 *     calls onWorkerStop at the *start* of the stop, and the old worker may
 *     then keep serving its open connections for a long time (a pinned
 *     reload). It is still running then, so it stays listed.
 *   - When the master stops, leftover entries (of workers that were
 *     killed) are deleted, and the default registry directory with them.
 *   - listen() adds one more Worker, `graceful-reload-status` (count 1,
 *     reloadable = false, so it keeps its pid and keeps answering during a
 *     reload; after `reload -g` it clears Workerman's graceful-stop mark,
 *     which would otherwise stop it once its last connection closed). It
 *     lists every registered worker whose process is alive, is not a
 *     zombie and (where /proc exists) is a child of its own master;
 *     entries of dead processes are deleted on the spot, so a pid that has
 *     exited is never listed. Itself it adds as reloadable false, without a
 *     revision (it serves no app code and is not reloaded).
 *
 * Only Workerman API that 4.x and 5.x both have is used (plus one protected
 * static set through reflection, see stayThroughGracefulReload()); PHP >= 7.1
 * with the posix extension. This file is loaded by the master (start file), so a
 * change to it takes a restart, not a reload.
 *
 * Workers that run as another user (Worker::$user) must all share one user
 * with the status worker, or get a registry_dir they can all write.
 */

namespace GracefulReload;

use Workerman\Protocols\Http\Response;
use Workerman\Worker;

final class StatusWorker
{
    /** Name of the Worker that listen() creates. */
    const NAME = 'graceful-reload-status';

    /** @var string|null real path of the start file, captured in the master */
    private static $startFile = null;
    /** @var string|null directory holding REVISION (default: the start file's) */
    private static $appDir = null;
    /** @var string|null registry directory (default: under sys_get_temp_dir()) */
    private static $registryDir = null;
    /** @var array<string, bool> spl_object_hash => true for every tracked Worker */
    private static $tracked = [];
    /** @var float|null when this status worker process started */
    private static $selfStartedAt = null;

    /**
     * Optional settings, to call before track()/listen() take effect (i.e.
     * before Worker::runAll()):
     *   app_dir       directory whose REVISION file is read (default: the
     *                 directory of the start file)
     *   registry_dir  where workers register (default:
     *                 sys_get_temp_dir()/graceful-reload-status-<md5 of the
     *                 start file's real path>)
     *   start_file    the start file, when it cannot be found on its own
     */
    public static function configure(array $options): void
    {
        if (isset($options['start_file']) && $options['start_file'] !== '') {
            $file = (string)$options['start_file'];
            self::$startFile = realpath($file) ?: $file;
        }
        if (isset($options['app_dir']) && $options['app_dir'] !== '') {
            $dir = (string)$options['app_dir'];
            self::$appDir = rtrim(realpath($dir) ?: $dir, '/');
        }
        if (isset($options['registry_dir']) && $options['registry_dir'] !== '') {
            self::$registryDir = rtrim((string)$options['registry_dir'], '/');
        }
    }

    /**
     * Registers the workers of these groups in every process they start.
     * Call in the start file once the workers' own callbacks are set, before
     * Worker::runAll(): a callback assigned afterwards replaces the wrapper.
     */
    public static function track(Worker ...$workers): void
    {
        self::captureStartFile();
        foreach ($workers as $worker) {
            $key = spl_object_hash($worker);
            if (isset(self::$tracked[$key])) {
                continue;
            }
            self::$tracked[$key] = true;
            $appStart = $worker->onWorkerStart;
            $worker->onWorkerStart = static function ($worker) use ($appStart) {
                self::register($worker);
                if ($appStart) {
                    \call_user_func($appStart, $worker);
                }
            };
        }
    }

    /**
     * Creates the status Worker. $address is its listen socket (http://
     * only). Options: path (default /status) and the keys of configure().
     *
     * It binds 127.0.0.1 by default on purpose: graceful-reload fetches the
     * status URL on the host itself, over SSH, so the port never needs to be
     * reachable from outside. Keep it that way (or firewall it): the answer
     * lists process ids and the deployed revision.
     */
    public static function listen(string $address = 'http://127.0.0.1:9090', array $options = []): Worker
    {
        self::captureStartFile();
        self::configure($options);
        if (strpos($address, '://') === false) {
            $address = 'http://' . $address;
        }
        if (strtolower(substr($address, 0, 7)) !== 'http://') {
            throw new \InvalidArgumentException("StatusWorker::listen() needs an http:// address, got $address");
        }
        $path = isset($options['path']) ? (string)$options['path'] : '/status';
        if ($path === '' || $path[0] !== '/') {
            $path = '/' . $path;
        }

        self::cleanUpWhenMasterStops();

        $worker = new Worker($address);
        $worker->name = self::NAME;
        $worker->count = 1;
        $worker->reloadable = false;
        $worker->onWorkerStart = static function ($worker) {
            self::$selfStartedAt = microtime(true);
            self::registryDirReady();
        };
        $worker->onWorkerReload = static function ($worker) {
            self::stayThroughGracefulReload();
        };
        $worker->onMessage = static function ($connection, $request) use ($path) {
            // One answer per connection. Workerman keeps HTTP connections
            // open whatever the client asks, and a client that sent
            // `Connection: close` (PHP's http:// wrapper, which graceful-reload's
            // host probe uses) then waits for the server to hang up.
            $connection->close(self::answer($request, $path));
        };
        return $worker;
    }

    /**
     * The status document as an array (what the status worker serves). Runs
     * in the status worker; usable from any worker of the same master.
     */
    public static function document(): array
    {
        $self = posix_getpid();
        $master = posix_getppid();
        $workers = [];
        $dir = self::registryDirReady();
        $names = $dir !== null ? @scandir($dir) : false;
        foreach ($names ?: [] as $name) {
            if (preg_match('/^\.(\d+)\.[0-9a-f]+\.tmp$/', $name, $m)) {
                // Leftover of a writer that died between write and rename.
                if ((int)$m[1] !== $self && self::processInfo((int)$m[1]) === null) {
                    @unlink("$dir/$name");
                }
                continue;
            }
            if (!preg_match('/^(\d+)\.json$/', $name, $m)) {
                continue;
            }
            $pid = (int)$m[1];
            if ($pid <= 0 || $pid === $self) {
                continue;
            }
            $file = "$dir/$name";
            $info = self::processInfo($pid);
            if ($info === null) {
                @unlink($file); // the process has exited: stale entry
                continue;
            }
            $entry = json_decode((string)@file_get_contents($file), true);
            if (!is_array($entry) || !isset($entry['pid']) || (int)$entry['pid'] !== $pid) {
                continue;
            }
            if (isset($entry['proc_start'], $info['start']) && (string)$entry['proc_start'] !== $info['start']) {
                @unlink($file); // the pid was reused by another process
                continue;
            }
            if ($info['ppid'] !== null && $info['ppid'] !== $master) {
                continue; // alive, but not a worker of this master
            }
            $workers[$pid] = self::publicEntry($entry);
        }
        $workers[$self] = [
            'pid' => $self,
            'name' => self::NAME,
            'reloadable' => false,
            'started_at' => self::$selfStartedAt !== null ? self::$selfStartedAt : microtime(true),
        ];
        ksort($workers, SORT_NUMERIC);
        return ['master_pid' => $master, 'workers' => array_values($workers)];
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    /** @param mixed $request Workerman\Protocols\Http\Request */
    private static function answer($request, string $path): Response
    {
        $headers = ['Content-Type' => 'application/json', 'Cache-Control' => 'no-store', 'Connection' => 'close'];
        $requestPath = is_object($request) && method_exists($request, 'path') ? (string)$request->path() : '';
        if ($requestPath !== $path) {
            return new Response(404, $headers, self::json(['error' => 'not found']));
        }
        $method = is_object($request) && method_exists($request, 'method') ? strtoupper((string)$request->method()) : 'GET';
        if ($method !== 'GET' && $method !== 'HEAD') {
            return new Response(405, $headers + ['Allow' => 'GET, HEAD'], self::json(['error' => 'method not allowed']));
        }
        try {
            return new Response(200, $headers, self::json(self::document()));
        } catch (\Throwable $e) {
            return new Response(500, $headers, self::json(['error' => $e->getMessage()]));
        }
    }

    private static function json(array $data): string
    {
        $flags = JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION;
        if (defined('JSON_INVALID_UTF8_SUBSTITUTE')) {
            $flags |= JSON_INVALID_UTF8_SUBSTITUTE;
        }
        $json = json_encode($data, $flags);
        return ($json === false ? '{"error":"json_encode failed"}' : $json) . "\n";
    }

    /** Only the contract's fields, with their contract types. */
    private static function publicEntry(array $entry): array
    {
        $out = ['pid' => (int)$entry['pid']];
        if (isset($entry['name'])) {
            $out['name'] = (string)$entry['name'];
        }
        $out['reloadable'] = isset($entry['reloadable']) ? (bool)$entry['reloadable'] : true;
        if (isset($entry['started_at']) && is_numeric($entry['started_at'])) {
            $out['started_at'] = (float)$entry['started_at'];
        }
        if (isset($entry['revision']) && is_string($entry['revision']) && $entry['revision'] !== '') {
            $out['revision'] = $entry['revision'];
        }
        return $out;
    }

    /**
     * When the master stops (every worker has exited by then), entries left
     * by workers that were killed are deleted, and so is the registry
     * directory itself when it is the default one under the temp dir: a
     * stopped app leaves nothing behind there. Chains the app's own
     * Worker::$onMasterStop. Runs only in the master (Workerman calls it
     * there, not in `php start.php <command>` processes).
     */
    private static function cleanUpWhenMasterStops(): void
    {
        static $done = false;
        if ($done) {
            return;
        }
        $done = true;
        $appStop = Worker::$onMasterStop;
        Worker::$onMasterStop = static function () use ($appStop) {
            try {
                $dir = self::registryDir();
                $isDefault = self::$registryDir === null;
                if (is_dir($dir) && !is_link($dir) && @fileowner($dir) === posix_geteuid()) {
                    foreach (@scandir($dir) ?: [] as $name) {
                        if (preg_match('/^(\d+\.json|\.\d+\.[0-9a-f]+\.tmp)$/', $name)) {
                            @unlink("$dir/$name");
                        }
                    }
                    if ($isDefault) {
                        @rmdir($dir);
                    }
                }
            } catch (\Throwable $e) {
                self::log('clean-up failed: ' . $e->getMessage());
            }
            if ($appStop) {
                \call_user_func($appStop);
            }
        };
    }

    /**
     * Workerman (4.x and 5.x alike) marks every process "stopping gracefully"
     * on `reload -g`, the workers with reloadable = false too, and such a
     * worker then stops for good as soon as its last open connection closes
     * (TcpConnection's destructor calls Worker::stopAll()); the master forks
     * a new one. This worker closes a connection after every answer, so it
     * would be replaced right after the first status request of every
     * graceful reload, and the pid it reports would change under the reader.
     * It serves no app code, so it clears that mark (a protected static of
     * Worker: `gracefulStop` in 5.x, `_gracefulStop` in 4.x) and stays.
     */
    private static function stayThroughGracefulReload(): void
    {
        foreach (['gracefulStop', '_gracefulStop'] as $name) {
            if (property_exists(Worker::class, $name)) {
                $property = new \ReflectionProperty(Worker::class, $name);
                if ($property->isStatic()) {
                    $property->setAccessible(true);
                    $property->setValue(null, false);
                    return;
                }
            }
        }
    }

    /** First thing in a tracked worker process: write <registry dir>/<pid>.json. */
    private static function register($worker): void
    {
        try {
            $startedAt = microtime(true);
            $pid = posix_getpid();
            $dir = self::registryDirReady();
            if ($dir === null) {
                return;
            }
            $entry = [
                'pid' => $pid,
                'name' => (string)$worker->name,
                'reloadable' => (bool)$worker->reloadable,
                'started_at' => $startedAt,
            ];
            $revision = self::readRevision();
            if ($revision !== null) {
                $entry['revision'] = $revision;
            }
            $info = self::processInfo($pid);
            if ($info !== null && $info['start'] !== null) {
                $entry['proc_start'] = $info['start']; // guards against pid reuse
            }
            $file = "$dir/$pid.json";
            $tmp = sprintf('%s/.%d.%s.tmp', $dir, $pid, bin2hex(random_bytes(6)));
            // 0644: Workerman's daemon runs with umask 0; nobody else may write it.
            if (@file_put_contents($tmp, self::json($entry)) === false || !@chmod($tmp, 0644)
                || !@rename($tmp, $file)) {
                @unlink($tmp);
                self::log("cannot write $file");
                return;
            }
            // Unregister when this process exits (normal exit, exit(250) after
            // a crash in onWorkerStart, fatal error). Not in a process forked
            // from this worker, which inherits the shutdown function.
            register_shutdown_function(static function () use ($pid, $file) {
                if (posix_getpid() === $pid) {
                    @unlink($file);
                }
            });
        } catch (\Throwable $e) {
            // Never let the status bookkeeping take the app worker down.
            self::log('register failed: ' . $e->getMessage());
        }
    }

    /** Trimmed content of <app dir>/REVISION, or null when there is none. */
    private static function readRevision(): ?string
    {
        $file = self::appDir() . '/REVISION';
        clearstatcache(true, $file);
        if (!is_file($file)) {
            return null;
        }
        $content = @file_get_contents($file, false, null, 0, 4096);
        if ($content === false) {
            return null;
        }
        $content = trim($content);
        return $content === '' ? null : $content;
    }

    private static function captureStartFile(): void
    {
        if (self::$startFile !== null) {
            return;
        }
        // The outermost frame is the script PHP was started with (how
        // Workerman finds its own start file), whatever file calls us.
        $trace = debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS);
        $file = null;
        for ($i = count($trace) - 1; $i >= 0; $i--) {
            if (!empty($trace[$i]['file'])) {
                $file = $trace[$i]['file'];
                break;
            }
        }
        if ($file === null && !empty($_SERVER['SCRIPT_FILENAME'])) {
            $file = $_SERVER['SCRIPT_FILENAME'];
        }
        if ($file === null) {
            $file = getcwd() . '/start.php';
        }
        self::$startFile = realpath($file) ?: $file;
    }

    private static function appDir(): string
    {
        if (self::$appDir === null) {
            self::captureStartFile();
            self::$appDir = dirname((string)self::$startFile);
        }
        return self::$appDir;
    }

    private static function registryDir(): string
    {
        if (self::$registryDir === null) {
            self::captureStartFile();
            return rtrim(sys_get_temp_dir(), '/') . '/graceful-reload-status-' . md5((string)self::$startFile);
        }
        return self::$registryDir;
    }

    /** The registry directory, created 0700 if missing; null when unusable. */
    private static function registryDirReady(): ?string
    {
        $dir = self::registryDir();
        $isDefault = self::$registryDir === null;
        if (!is_dir($dir)) {
            if (!@mkdir($dir, 0700, true) && !is_dir($dir)) {
                self::log("cannot create $dir");
                return null;
            }
            @chmod($dir, 0700);
        }
        // The default name is predictable and lives in a shared temp dir:
        // refuse one that another user made (it could feed us fake entries).
        if ($isDefault && (is_link($dir) || @fileowner($dir) !== posix_geteuid())) {
            self::log("$dir is not a directory of this user; pass registry_dir");
            return null;
        }
        return $dir;
    }

    /**
     * null when $pid is not a running process (gone, or a zombie); otherwise
     * its parent pid and start time from /proc where readable (else null).
     *
     * @return array{ppid: ?int, start: ?string}|null
     */
    private static function processInfo(int $pid): ?array
    {
        if ($pid <= 0) {
            return null;
        }
        // EPERM (1): it exists but belongs to another user.
        if (!posix_kill($pid, 0) && posix_get_last_error() !== 1) {
            return null;
        }
        $stat = @file_get_contents("/proc/$pid/stat");
        if (!is_string($stat) || ($close = strrpos($stat, ')')) === false) {
            if (is_dir("/proc/self") && !file_exists("/proc/$pid")) {
                return null; // exited since the kill() above
            }
            return ['ppid' => null, 'start' => null];
        }
        // After "pid (comm) ": state ppid pgrp ... (field 22 = starttime)
        $fields = explode(' ', substr($stat, $close + 2));
        $state = isset($fields[0]) ? $fields[0] : '';
        if ($state === 'Z' || $state === 'X' || $state === 'x') {
            return null;
        }
        return [
            'ppid' => isset($fields[1]) ? (int)$fields[1] : null,
            'start' => isset($fields[19]) ? $fields[19] : null,
        ];
    }

    private static function log(string $message): void
    {
        try {
            Worker::log('graceful-reload-status: ' . $message);
        } catch (\Throwable $e) {
            error_log('graceful-reload-status: ' . $message);
        }
    }
}
