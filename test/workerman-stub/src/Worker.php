<?php
/**
 * Workerman stand-in for graceful-reload's test suite.
 *
 * Behaves like Workerman 4.x/5.x from the outside (commands, process titles,
 * pid/log/status files, status table, rolling reload) without being
 * Workerman: written from observed behaviour only. See ../README.md.
 *
 * Signals
 *   master:  SIGINT/SIGTERM/SIGHUP/SIGTSTP stop, SIGQUIT graceful stop,
 *            SIGUSR1 reload, SIGUSR2 graceful reload, SIGIOT (=SIGABRT) status
 *   worker:  SIGINT stop, SIGTERM stop (ignored with WORKERMAN_STUB_VERSION=4),
 *            SIGQUIT graceful stop, SIGUSR1/SIGUSR2 reload, SIGIOT status row
 *
 * Environment read by the master when it starts
 *   WORKERMAN_STUB_VERSION       4 or 5 (default 5): status table flavour and
 *                                worker SIGTERM handling
 *   WORKERMAN_STUB_CRASH_DELAY   seconds a worker whose onWorkerStart threw
 *                                waits before logging the error and exiting
 *                                with 250 (default 1, like Workerman's
 *                                "avoid rapid infinite loop exit" pause)
 */

namespace Workerman;

use Workerman\Connection\TcpConnection;

#[\AllowDynamicProperties]
class Worker
{
    public const STATUS_STARTING = 1;
    public const STATUS_RUNNING = 2;
    public const STATUS_SHUTDOWN = 4;
    public const STATUS_RELOADING = 8;

    /** Signal the status command sends to the master (and the master to the workers). */
    public const STATUS_SIGNAL = SIGIOT;

    public const VERSION_5 = '5.2.2';
    public const VERSION_4 = '4.2.1';

    // ------------------------------------------------------------------
    // Per-worker (group) configuration
    // ------------------------------------------------------------------
    public $name = 'none';
    public $count = 1;
    public $reloadable = true;
    public $user = '';
    public $group = '';
    public $transport = 'tcp';
    public $protocol = null;
    public $reusePort = false;
    /** slot number of this process inside its group (0 .. count-1) */
    public $id = 0;
    public $workerId = '';
    /** @var array<int, TcpConnection> */
    public $connections = [];

    public $onWorkerStart = null;
    public $onWorkerStop = null;
    public $onWorkerReload = null;
    public $onConnect = null;
    public $onMessage = null;
    public $onClose = null;
    public $onError = null;
    public $onBufferFull = null;
    public $onBufferDrain = null;

    // ------------------------------------------------------------------
    // Global configuration
    // ------------------------------------------------------------------
    public static $pidFile = '';
    public static $logFile = '';
    public static $statusFile = '';
    public static $stopTimeout = 2;
    public static $daemonize = false;
    public static $stdoutFile = '/dev/null';
    public static $processTitle = 'WorkerMan';
    public static $eventLoopClass = '';
    public static $onMasterReload = null;
    public static $onMasterStop = null;
    public static $globalEvent = null;

    // ------------------------------------------------------------------
    // Internal state
    // ------------------------------------------------------------------
    protected $socketName = '';
    protected $context = [];
    /** http | websocket | tcp | none */
    protected $scheme = 'none';
    /** @var resource|null */
    protected $mainSocket = null;

    /** @var array<string, Worker> */
    protected static $workers = [];
    /** @var array<string, array<int, int>> workerId => slot => pid (0 = free) */
    protected static $pidMap = [];
    /** @var array<int, string> pid => workerId */
    protected static $pidToWorker = [];
    /** @var array<string, array<int, int>> workerId => exit status => count */
    protected static $exitInfo = [];
    /** @var array<string, float> workerId => earliest time of the next fork */
    protected static $forkNotBefore = [];

    protected static $status = self::STATUS_STARTING;
    protected static $isMaster = true;
    protected static $masterPid = 0;
    protected static $startFile = '';
    protected static $flavour = '5';
    protected static $crashDelay = 1.0;
    protected static $startTime = 0;
    protected static $gracefulStop = false;
    protected static $stopKillAt = 0.0;

    protected static $reloadQueue = [];
    protected static $reloadCurrent = 0;
    protected static $reloadSignal = SIGUSR1;
    protected static $reloadKillAt = 0.0;

    /** column widths of the status table, fixed when the master starts */
    protected static $listenWidth = 12;
    protected static $nameWidth = 12;
    protected static $exitNameWidth = 12;

    protected static $readyPipe = null;
    protected static $stdReset = false;
    protected static $stdStreams = [];

    /** the Worker run by this (worker) process */
    protected static $current = null;
    protected static $workerStopping = false;

    public function __construct(string $socketName = '', array $context = [])
    {
        $this->workerId = spl_object_hash($this);
        $this->socketName = $socketName;
        $this->context = $context;
        if ($socketName !== '') {
            $pos = strpos($socketName, '://');
            if ($pos === false) {
                throw new \InvalidArgumentException("Bad socket name $socketName");
            }
            $scheme = strtolower(substr($socketName, 0, $pos));
            $this->scheme = $scheme === 'ws' ? 'websocket' : $scheme;
            if (!in_array($this->scheme, ['http', 'websocket', 'tcp', 'text', 'frame'], true)) {
                throw new \InvalidArgumentException("Unsupported protocol $scheme in the Workerman stub");
            }
            if ($this->scheme !== 'tcp') {
                $this->protocol = $this->scheme;
            }
        }
        static::$workers[$this->workerId] = $this;
    }

    public function getSocketName(): string
    {
        return $this->socketName !== '' ? lcfirst($this->socketName) : 'none';
    }

    /** @return array<string, Worker> */
    public static function getAllWorkers(): array
    {
        return static::$workers;
    }

    public static function getStartFile(): string
    {
        return static::$startFile;
    }

    public static function getStatus(): int
    {
        return static::$status;
    }

    public static function getGracefulStop(): bool
    {
        return static::$gracefulStop;
    }

    public static function isRunning(): bool
    {
        return static::$status !== self::STATUS_STARTING;
    }

    /** Stub flavour in effect: "4" or "5". */
    public static function flavour(): string
    {
        return static::$flavour;
    }

    public static function version(): string
    {
        return static::$flavour === '4' ? self::VERSION_4 : self::VERSION_5;
    }

    // ==================================================================
    // Entry point
    // ==================================================================
    public static function runAll(): void
    {
        if (PHP_SAPI !== 'cli') {
            exit("Only run in command line mode\n");
        }
        static::init();
        static::parseCommand();
        static::startMaster();
    }

    protected static function init(): void
    {
        $trace = debug_backtrace();
        $file = $trace[count($trace) - 1]['file'] ?? ($_SERVER['SCRIPT_FILENAME'] ?? 'start.php');
        static::$startFile = realpath($file) ?: $file;
        $dir = dirname(static::$startFile);
        $base = basename(static::$startFile);
        if (!static::$pidFile) {
            static::$pidFile = "$dir/workerman.$base.pid";
        }
        if (!static::$logFile) {
            static::$logFile = "$dir/workerman.log";
        }
        if (!static::$statusFile) {
            static::$statusFile = dirname(static::$pidFile) . "/workerman.$base.status";
        }
        if (!is_file(static::$logFile) && is_dir(dirname(static::$logFile))) {
            @touch(static::$logFile);
        }
        $v = (string)getenv('WORKERMAN_STUB_VERSION');
        static::$flavour = ($v !== '' && $v[0] === '4') ? '4' : '5';
        $delay = getenv('WORKERMAN_STUB_CRASH_DELAY');
        if ($delay !== false && is_numeric($delay)) {
            static::$crashDelay = max(0.0, (float)$delay);
        }
        // Like Workerman's init(): every `php start.php <command>` process,
        // status and reload included, carries the master's title while it runs.
        static::setTitle(static::$processTitle . ': master process  start_file=' . static::$startFile);
    }

    protected static function baseName(): string
    {
        return basename(static::$startFile);
    }

    // ==================================================================
    // Commands
    // ==================================================================
    protected static function usage(): string
    {
        $file = static::baseName();
        return "Usage: php $file <command> [mode]\nCommands: \n"
            . "start\t\tStart worker in DEBUG mode.\n\t\tUse mode -d to start in DAEMON mode.\n"
            . "stop\t\tStop worker.\n\t\tUse mode -g to stop gracefully.\n"
            . "restart\t\tRestart workers.\n\t\tUse mode -d to start in DAEMON mode.\n\t\tUse mode -g to stop gracefully.\n"
            . "reload\t\tReload codes.\n\t\tUse mode -g to reload gracefully.\n"
            . "status\t\tGet worker status.\n\t\tUse mode -d to show live status.\n";
    }

    protected static function parseCommand(): void
    {
        $argv = $_SERVER['argv'] ?? [];
        $command = trim((string)($argv[1] ?? ''));
        $modes = array_map('trim', array_slice($argv, 2));
        $daemonMode = in_array('-d', $modes, true);
        $gracefulMode = in_array('-g', $modes, true);
        if (!in_array($command, ['start', 'stop', 'restart', 'reload', 'status'], true)) {
            static::safeEcho(static::usage());
            exit(64);
        }
        $base = static::baseName();
        $modeStr = '';
        if ($command === 'start') {
            $modeStr = ($daemonMode || static::$daemonize) ? ' in DAEMON mode' : ' in DEBUG mode';
        }
        static::log("Workerman[$base] $command$modeStr");

        $masterPid = static::readMasterPid();
        $alive = static::processAlive($masterPid);
        if ($alive) {
            if ($command === 'start') {
                static::log("Workerman[$base] already running");
                exit(0);
            }
        } elseif ($command !== 'start' && $command !== 'restart') {
            static::log("Workerman[$base] not run");
            exit(0);
        }

        switch ($command) {
            case 'start':
                if ($daemonMode) {
                    static::$daemonize = true;
                }
                return;
            case 'status':
                while (true) {
                    @unlink(static::$statusFile);
                    posix_kill($masterPid, self::STATUS_SIGNAL);
                    sleep(1);
                    if ($daemonMode) {
                        static::safeEcho("\33[H\33[2J\33[(B\33[m");
                    }
                    static::safeEcho(static::formatStatus());
                    if (!$daemonMode) {
                        exit(0);
                    }
                    static::safeEcho("\nPress Ctrl+C to quit.\n\n");
                }
                // no break
            case 'reload':
                posix_kill($masterPid, $gracefulMode ? SIGUSR2 : SIGUSR1);
                exit(0);
            case 'stop':
            case 'restart':
                if ($alive) {
                    if ($gracefulMode) {
                        $sig = SIGQUIT;
                        static::log("Workerman[$base] is gracefully stopping ...");
                    } else {
                        $sig = SIGINT;
                        static::log("Workerman[$base] is stopping ...");
                    }
                    posix_kill($masterPid, $sig);
                    $began = microtime(true);
                    while (static::processAlive($masterPid)) {
                        if (!$gracefulMode && microtime(true) - $began >= 5) {
                            static::log("Workerman[$base] stop fail");
                            exit(0);
                        }
                        usleep(10000);
                    }
                    static::log("Workerman[$base] stop success");
                }
                if ($command === 'stop') {
                    exit(0);
                }
                if ($daemonMode) {
                    static::$daemonize = true;
                }
                return;
        }
    }

    protected static function readMasterPid(): int
    {
        if (!is_file(static::$pidFile)) {
            return 0;
        }
        return (int)trim((string)@file_get_contents(static::$pidFile));
    }

    /** Alive = kill(pid, 0) succeeds and the process is not a zombie. */
    protected static function processAlive(int $pid): bool
    {
        if ($pid <= 0 || $pid === posix_getpid() || !posix_kill($pid, 0)) {
            return false;
        }
        $stat = @file_get_contents("/proc/$pid/stat");
        if (is_string($stat) && ($p = strrpos($stat, ')')) !== false) {
            $state = substr($stat, $p + 2, 1);
            if ($state === 'Z' || $state === 'X') {
                return false;
            }
        }
        return true;
    }

    // ==================================================================
    // Master
    // ==================================================================
    protected static function startMaster(): void
    {
        if (static::$daemonize) {
            static::daemonize();
        }
        try {
            static::$isMaster = true;
            static::$masterPid = posix_getpid();
            static::$startTime = time();
            static::installMasterSignals();
            static::setTitle(static::$processTitle . ': master process  start_file=' . static::$startFile);
            static::initWorkers();
            static::savePid();
        } catch (\Throwable $e) {
            static::safeEcho($e->getMessage() . "\n", true);
            static::log('Workerman[' . static::baseName() . '] start failed: ' . $e->getMessage());
            exit(1);
        }
        static::displayUi();
        foreach (static::$workers as $wid => $worker) {
            static::forkMissing($wid);
        }
        static::$status = self::STATUS_RUNNING;
        if (static::$readyPipe) {
            @fwrite(static::$readyPipe, "ok\n");
            @fclose(static::$readyPipe);
            static::$readyPipe = null;
        }
        static::resetStd();
        static::monitor();
    }

    protected static function daemonize(): void
    {
        umask(0);
        $pair = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        if ($pair === false) {
            throw new \RuntimeException('stream_socket_pair failed');
        }
        $pid = pcntl_fork();
        if ($pid === -1) {
            throw new \RuntimeException('Fork fail');
        }
        if ($pid > 0) {
            // The command process: wait until the master is up, then leave.
            fclose($pair[1]);
            $msg = '';
            while (($chunk = @fread($pair[0], 64)) !== false && $chunk !== '') {
                $msg .= $chunk;
                if (strpos($msg, "\n") !== false) {
                    break;
                }
            }
            fclose($pair[0]);
            pcntl_waitpid($pid, $st);
            exit(trim($msg) === 'ok' ? 0 : 1);
        }
        fclose($pair[0]);
        if (posix_setsid() === -1) {
            throw new \RuntimeException('Setsid fail');
        }
        $pid = pcntl_fork();
        if ($pid === -1) {
            throw new \RuntimeException('Fork fail');
        }
        if ($pid > 0) {
            exit(0);
        }
        static::$readyPipe = $pair[1];
    }

    protected static function masterSignals(): array
    {
        return [SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGQUIT, SIGUSR1, SIGUSR2, self::STATUS_SIGNAL, SIGIO];
    }

    protected static function installMasterSignals(): void
    {
        pcntl_async_signals(false);
        foreach (static::masterSignals() as $sig) {
            pcntl_signal($sig, [static::class, 'masterSignalHandler'], false);
        }
        pcntl_signal(SIGPIPE, SIG_IGN, false);
    }

    /** @internal */
    public static function masterSignalHandler(int $sig): void
    {
        if (posix_getpid() !== static::$masterPid) {
            return; // a signal the master had queued, inherited by a new worker: not ours
        }
        switch ($sig) {
            case SIGINT:
            case SIGTERM:
            case SIGHUP:
            case SIGTSTP:
                static::masterStop(false);
                break;
            case SIGQUIT:
                static::masterStop(true);
                break;
            case SIGUSR1:
            case SIGUSR2:
                static::startReload($sig);
                break;
            case self::STATUS_SIGNAL:
                static::writeMasterStatus();
                break;
        }
    }

    protected static function initWorkers(): void
    {
        $maxListen = 0;
        $maxName = 0;
        foreach (static::$workers as $wid => $worker) {
            if ($worker->name === '' || $worker->name === null) {
                $worker->name = 'none';
            }
            $worker->count = max(1, (int)$worker->count);
            $maxListen = max($maxListen, strlen($worker->getSocketName()));
            $maxName = max($maxName, strlen((string)$worker->name));
            static::$pidMap[$wid] = array_fill(0, $worker->count, 0);
            static::$exitInfo[$wid] = [];
            $worker->listen();
        }
        if (static::$flavour === '4') {
            static::$listenWidth = max(12, $maxListen);
            static::$nameWidth = max(12, $maxName);
        } else {
            static::$listenWidth = max(9, $maxListen);
            static::$nameWidth = max(4, $maxName + 1);
        }
        static::$exitNameWidth = max(12, $maxName);
    }

    protected static function savePid(): void
    {
        if (@file_put_contents(static::$pidFile, (string)static::$masterPid) === false) {
            throw new \RuntimeException('can not save pid to ' . static::$pidFile);
        }
    }

    protected static function displayUi(): void
    {
        $line = str_repeat('-', 96);
        $user = static::currentUser();
        $out = static::center(' WORKERMAN ', 96) . "\n"
            . static::versionLine() . "\n"
            . static::center(' WORKERS ', 96) . "\n"
            . str_pad('proto', 8) . str_pad('user', 12) . str_pad('worker', 16) . str_pad('listen', 32) . str_pad('processes', 12) . "status\n";
        foreach (static::$workers as $worker) {
            $out .= str_pad($worker->transport, 8) . str_pad($user, 12) . str_pad((string)$worker->name, 16)
                . str_pad($worker->getSocketName(), 32) . str_pad((string)$worker->count, 12) . " [OK]\n";
        }
        $out .= $line . "\n";
        if (static::$daemonize) {
            $out .= 'Input "php ' . static::baseName() . " stop\" to stop. Start success.\n\n";
        } else {
            $out .= "Press Ctrl+C to stop. Start success.\n";
        }
        static::safeEcho($out);
    }

    protected static function center(string $title, int $width): string
    {
        $left = intdiv($width - strlen($title), 2);
        return str_repeat('-', $left) . $title . str_repeat('-', $width - strlen($title) - $left);
    }

    protected static function currentUser(): string
    {
        $info = function_exists('posix_getpwuid') ? posix_getpwuid(posix_geteuid()) : false;
        return is_array($info) ? $info['name'] : (string)posix_geteuid();
    }

    protected static function versionLine(): string
    {
        if (static::$flavour === '4') {
            return 'Workerman version:' . self::VERSION_4 . '          PHP version:' . PHP_VERSION;
        }
        $jit = 'off';
        if (function_exists('opcache_get_status')) {
            $s = @opcache_get_status(false);
            if (is_array($s) && !empty($s['jit']['on'])) {
                $jit = 'on';
            }
        }
        return str_pad('Workerman/' . self::VERSION_5, 24) . str_pad('PHP/' . PHP_VERSION . " (JIT $jit)", 30)
            . PHP_OS . '/' . php_uname('r');
    }

    protected static function monitor(): void
    {
        while (true) {
            pcntl_signal_dispatch();
            while (($pid = pcntl_wait($status, WNOHANG)) > 0) {
                static::handleExit($pid, $status);
            }
            pcntl_signal_dispatch();
            $now = microtime(true);
            if (static::$status === self::STATUS_SHUTDOWN) {
                if (!static::$pidToWorker) {
                    static::exitAndClearAll();
                }
                if (static::$stopKillAt > 0 && $now >= static::$stopKillAt) {
                    static::$stopKillAt = 0.0;
                    foreach (array_keys(static::$pidToWorker) as $pid) {
                        posix_kill($pid, SIGKILL);
                    }
                }
            } else {
                foreach (array_keys(static::$workers) as $wid) {
                    static::forkMissing($wid);
                }
                if (static::$status === self::STATUS_RELOADING && static::$reloadKillAt > 0
                    && $now >= static::$reloadKillAt && static::$reloadCurrent > 0) {
                    static::$reloadKillAt = 0.0;
                    posix_kill(static::$reloadCurrent, SIGKILL);
                }
            }
            usleep(10000);
        }
    }

    protected static function handleExit(int $pid, int $status): void
    {
        if (!isset(static::$pidToWorker[$pid])) {
            return;
        }
        $wid = static::$pidToWorker[$pid];
        unset(static::$pidToWorker[$pid]);
        $slot = array_search($pid, static::$pidMap[$wid], true);
        if ($slot !== false) {
            static::$pidMap[$wid][$slot] = 0;
        }
        $worker = static::$workers[$wid];
        if ($status !== 0) {
            static::log("worker[{$worker->name}:$pid] exit with status $status");
        }
        static::$exitInfo[$wid][$status] = (static::$exitInfo[$wid][$status] ?? 0) + 1;
        if (static::$status === self::STATUS_SHUTDOWN) {
            return;
        }
        if (pcntl_wifexited($status) && pcntl_wexitstatus($status) !== 0) {
            // Crashed: re-fork after a short pause so a crash loop cannot saturate the machine.
            static::$forkNotBefore[$wid] = microtime(true) + 0.02;
        }
        static::forkMissing($wid);
        if ($pid === static::$reloadCurrent) {
            static::$reloadCurrent = 0;
            static::$reloadKillAt = 0.0;
            static::reloadStep();
        }
    }

    protected static function forkMissing(string $wid): void
    {
        if (static::$status === self::STATUS_SHUTDOWN) {
            return;
        }
        if (isset(static::$forkNotBefore[$wid])) {
            if (microtime(true) < static::$forkNotBefore[$wid]) {
                return;
            }
            unset(static::$forkNotBefore[$wid]);
        }
        foreach (static::$pidMap[$wid] as $slot => $pid) {
            if ($pid === 0) {
                static::forkOne($wid, $slot);
            }
        }
    }

    protected static function forkOne(string $wid, int $slot): void
    {
        $signals = array_merge(static::masterSignals(), [SIGCHLD]);
        pcntl_sigprocmask(SIG_BLOCK, $signals, $oldMask);
        $pid = pcntl_fork();
        if ($pid > 0) {
            static::$pidMap[$wid][$slot] = $pid;
            static::$pidToWorker[$pid] = $wid;
            pcntl_sigprocmask(SIG_SETMASK, $oldMask);
            return;
        }
        if ($pid === 0) {
            static::runWorkerProcess(static::$workers[$wid], $slot, $oldMask);
            exit(0);
        }
        pcntl_sigprocmask(SIG_SETMASK, $oldMask);
        static::log('fork worker process failed');
        static::$forkNotBefore[$wid] = microtime(true) + 0.5;
    }

    protected static function startReload(int $sig): void
    {
        if (static::$status === self::STATUS_RELOADING || static::$status === self::STATUS_SHUTDOWN) {
            return; // Workerman ignores reload signals while a reload is under way
        }
        static::log('Workerman[' . static::baseName() . '] reloading');
        static::$status = self::STATUS_RELOADING;
        static::$gracefulStop = $sig === SIGUSR2;
        static::$reloadSignal = $sig;
        if (static::$onMasterReload) {
            try {
                (static::$onMasterReload)();
            } catch (\Throwable $e) {
                static::log($e);
            }
        }
        static::$reloadQueue = [];
        foreach (static::$pidMap as $wid => $slots) {
            $worker = static::$workers[$wid];
            foreach ($slots as $pid) {
                if ($pid === 0) {
                    continue;
                }
                if ($worker->reloadable) {
                    static::$reloadQueue[] = $pid;
                } else {
                    posix_kill($pid, $sig);
                }
            }
        }
        static::$reloadCurrent = 0;
        static::reloadStep();
    }

    /** Signals the next old worker, or ends the reload when none is left. */
    protected static function reloadStep(): void
    {
        if (static::$status !== self::STATUS_RELOADING) {
            return;
        }
        if (static::$reloadCurrent > 0 && isset(static::$pidToWorker[static::$reloadCurrent])) {
            return;
        }
        while (static::$reloadQueue) {
            $pid = array_shift(static::$reloadQueue);
            if (!isset(static::$pidToWorker[$pid])) {
                continue; // already gone (and re-forked)
            }
            static::$reloadCurrent = $pid;
            posix_kill($pid, static::$reloadSignal);
            static::$reloadKillAt = static::$gracefulStop ? 0.0 : microtime(true) + (float)static::$stopTimeout;
            return;
        }
        static::$reloadCurrent = 0;
        static::$reloadKillAt = 0.0;
        static::$status = self::STATUS_RUNNING;
    }

    protected static function masterStop(bool $graceful): void
    {
        $first = static::$status !== self::STATUS_SHUTDOWN;
        static::$status = self::STATUS_SHUTDOWN;
        static::$gracefulStop = $graceful;
        static::$reloadQueue = [];
        static::$reloadCurrent = 0;
        static::$reloadKillAt = 0.0;
        if ($first) {
            static::log('Workerman[' . static::baseName() . '] ' . ($graceful ? 'gracefully stopping ...' : 'stopping ...'));
            if (static::$onMasterStop) {
                try {
                    (static::$onMasterStop)();
                } catch (\Throwable $e) {
                    static::log($e);
                }
            }
        }
        $sig = $graceful ? SIGQUIT : SIGINT;
        foreach (array_keys(static::$pidToWorker) as $pid) {
            posix_kill($pid, $sig);
        }
        static::$stopKillAt = $graceful ? 0.0 : microtime(true) + (float)static::$stopTimeout;
    }

    protected static function exitAndClearAll(): void
    {
        foreach (static::$workers as $worker) {
            $worker->unlisten();
        }
        @unlink(static::$pidFile);
        @unlink(static::$statusFile);
        static::log('Workerman[' . static::baseName() . '] has been stopped');
        exit(0);
    }

    // ==================================================================
    // Status table
    // ==================================================================
    protected static function dashes(string $title): string
    {
        if (static::$flavour === '4') {
            return $title === 'GLOBAL STATUS'
                ? str_repeat('-', 46) . $title . str_repeat('-', 52)
                : str_repeat('-', 46) . $title . str_repeat('-', 51);
        }
        return $title === 'GLOBAL STATUS'
            ? str_repeat('-', 51) . $title . str_repeat('-', 57)
            : str_repeat('-', 51) . $title . str_repeat('-', 56);
    }

    protected static function processHeader(): string
    {
        return "pid\tmemory  " . str_pad('listening', static::$listenWidth) . ' '
            . str_pad(static::$flavour === '4' ? 'worker_name' : 'name', static::$nameWidth)
            . ' connections send_fail timers  total_request qps    status';
    }

    /** Master: global block + process header, then ask every worker for its row. */
    protected static function writeMasterStatus(): void
    {
        $workersInfo = [];
        foreach (static::$pidMap as $wid => $slots) {
            $worker = static::$workers[$wid];
            foreach ($slots as $pid) {
                if ($pid > 0) {
                    $workersInfo[$pid] = ['name' => (string)$worker->name, 'listen' => $worker->getSocketName()];
                }
            }
        }
        $meta = [
            'flavour' => static::$flavour,
            'daemon' => (bool)static::$daemonize,
            'listenWidth' => static::$listenWidth,
            'nameWidth' => static::$nameWidth,
            'masterPid' => static::$masterPid,
            'workers' => $workersInfo,
        ];
        $load = function_exists('sys_getloadavg') ? sys_getloadavg() : false;
        $load = is_array($load) ? implode(', ', array_map(static fn($v) => round($v, 2), $load)) : '-, -, -';
        $run = time() - static::$startTime;
        $runStr = 'run ' . intdiv($run, 86400) . ' days ' . intdiv($run % 86400, 3600) . ' hours';
        $startStr = 'start time:' . date('Y-m-d H:i:s', static::$startTime);
        $nProc = count(static::$pidToWorker);
        $nGroups = count(static::$workers);
        $w = static::$exitNameWidth;

        $out = json_encode($meta) . "\n" . static::dashes('GLOBAL STATUS') . "\n" . static::versionLine() . "\n";
        if (static::$flavour === '4') {
            $out .= "$startStr   $runStr   \n";
            $out .= str_pad("load average: $load", 33) . "event-loop:\\Workerman\\Events\\Select\n";
            $out .= "$nGroups workers       $nProc processes\n";
            $out .= str_pad('worker_name', $w) . " exit_status      exit_count\n";
            foreach (static::$workers as $wid => $worker) {
                $info = static::$exitInfo[$wid] ?: [0 => 0];
                foreach ($info as $status => $count) {
                    $out .= str_pad((string)$worker->name, $w) . ' ' . str_pad((string)$status, 16) . " $count\n";
                }
            }
        } else {
            $out .= "$startStr   $runStr   load average: $load\n";
            $out .= "$nGroups workers    $nProc processes\n";
            $out .= str_pad('name', $w) . ' ' . str_pad('event-loop', 14) . ' ' . str_pad('exit_status', 15) . " exit_count\n";
            foreach (static::$workers as $wid => $worker) {
                $info = static::$exitInfo[$wid] ?: [0 => 0];
                foreach ($info as $status => $count) {
                    $out .= str_pad((string)$worker->name, $w) . ' ' . str_pad('select', 14) . ' '
                        . str_pad((string)$status, 15) . ' ' . str_pad((string)$count, 16) . "\n";
                }
            }
        }
        $out .= static::dashes('PROCESS STATUS') . "\n" . static::processHeader() . "\n";
        @file_put_contents(static::$statusFile, $out, LOCK_EX);
        @chmod(static::$statusFile, 0666);
        foreach (array_keys(static::$pidToWorker) as $pid) {
            posix_kill($pid, self::STATUS_SIGNAL);
        }
    }

    /** Worker: append this process's row (qps and status are added by the command). */
    protected static function writeWorkerStatus(): void
    {
        $worker = static::$current;
        if (!$worker) {
            return;
        }
        $mem = round(memory_get_usage() / (1024 * 1024), 2) . 'M';
        $row = posix_getpid() . "\t" . str_pad($mem, 7) . ' '
            . str_pad($worker->getSocketName(), static::$listenWidth) . ' '
            . str_pad((string)$worker->name, static::$nameWidth) . ' '
            . str_pad((string)count(TcpConnection::$connections), 11) . ' '
            . str_pad((string)TcpConnection::$statistics['send_fail'], 9) . ' '
            . str_pad((string)Timer::count(), 7) . ' '
            . str_pad((string)TcpConnection::$statistics['total_request'], 13) . "\n";
        @file_put_contents(static::$statusFile, $row, FILE_APPEND | LOCK_EX);
    }

    /** Command: the table printed by `status`. */
    protected static function formatStatus(): string
    {
        $lines = @file(static::$statusFile, FILE_IGNORE_NEW_LINES);
        if (!$lines) {
            return '';
        }
        $meta = json_decode((string)array_shift($lines), true);
        if (!is_array($meta)) {
            return '';
        }
        $flavourBackup = static::$flavour;
        static::$flavour = (string)$meta['flavour'];
        $lw = (int)$meta['listenWidth'];
        $nw = (int)$meta['nameWidth'];
        $out = '';
        if (static::$flavour !== '4') {
            $out .= 'Start worker in ' . (!empty($meta['daemon']) ? 'DAEMON' : 'DEBUG') . " mode.\n";
        }
        $rows = [];
        $inRows = false;
        foreach ($lines as $line) {
            if (!$inRows) {
                $out .= $line . "\n";
                if (strncmp($line, "pid\t", 4) === 0) {
                    $inRows = true;
                }
                continue;
            }
            if (preg_match('/^(\d+)\t/', $line, $m)) {
                $rows[(int)$m[1]] = rtrim($line, "\n");
            }
        }
        $workers = $meta['workers'];
        $pids = array_map('intval', array_keys($workers));
        sort($pids, SORT_NUMERIC);
        $mem = 0.0;
        $conns = $fails = $timers = $requests = 0;
        foreach ($pids as $pid) {
            $info = $workers[$pid] ?? $workers[(string)$pid];
            if (isset($rows[$pid])) {
                $f = preg_split('/\s+/', trim($rows[$pid]));
                $mem += (float)($f[1] ?? 0);
                $conns += (int)($f[4] ?? 0);
                $fails += (int)($f[5] ?? 0);
                $timers += (int)($f[6] ?? 0);
                $requests += (int)($f[7] ?? 0);
                $out .= $rows[$pid] . ' ' . str_pad('0', 6) . " [idle]\n";
            } else {
                $out .= "$pid\t" . str_pad('N/A', 7) . ' ' . str_pad($info['listen'], $lw) . ' '
                    . str_pad($info['name'], $nw) . ' ' . str_pad('N/A', 11) . ' ' . str_pad('N/A', 9) . ' '
                    . str_pad('N/A', 7) . ' ' . str_pad('N/A', 13) . ' ' . str_pad('N/A', 6) . " [busy] \n";
            }
        }
        $out .= static::dashes('PROCESS STATUS') . "\n";
        $out .= "Summary\t" . str_pad(round($mem, 2) . 'M', 7) . ' ' . str_pad('-', $lw) . ' ' . str_pad('-', $nw) . ' '
            . str_pad((string)$conns, 11) . ' ' . str_pad((string)$fails, 9) . ' ' . str_pad((string)$timers, 7) . ' '
            . str_pad((string)$requests, 13) . ' ' . str_pad('0', 6) . " [Summary] \n";
        static::$flavour = $flavourBackup;
        return $out;
    }

    // ==================================================================
    // Worker process
    // ==================================================================
    protected static function runWorkerProcess(Worker $worker, int $slot, array $oldMask): void
    {
        mt_srand();
        srand();
        static::$isMaster = false;
        static::$current = $worker;
        $worker->id = $slot;
        foreach (static::$workers as $other) {
            if ($other !== $worker) {
                $other->unlisten();
            }
        }
        static::$workers = [$worker->workerId => $worker];
        static::$pidMap = [];
        static::$pidToWorker = [];
        static::$reloadQueue = [];
        if (static::$readyPipe) {
            @fclose(static::$readyPipe);
            static::$readyPipe = null;
        }
        // Drain signals the master had queued but not dispatched before the
        // fork (the master handles its own copy), then switch handlers.
        pcntl_signal_dispatch();
        static::installWorkerSignals();
        pcntl_sigprocmask(SIG_SETMASK, $oldMask);
        static::resetStd();
        static::setTitle(static::$processTitle . ': worker process  ' . $worker->name . ' ' . $worker->getSocketName());
        static::$status = self::STATUS_RUNNING;
        register_shutdown_function([static::class, 'checkErrors']);

        if ($worker->onWorkerStart) {
            try {
                ($worker->onWorkerStart)($worker);
            } catch (\Throwable $e) {
                // Like Workerman: pause (avoid a rapid infinite loop), log, exit 250.
                $until = microtime(true) + static::$crashDelay;
                while (($left = $until - microtime(true)) > 0) {
                    usleep((int)min(100000, $left * 1e6));
                }
                static::log($e);
                exit(250);
            }
        }
        static::workerLoop($worker);
    }

    protected static function installWorkerSignals(): void
    {
        pcntl_async_signals(false);
        $handler = [static::class, 'workerSignalHandler'];
        foreach ([SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, self::STATUS_SIGNAL] as $sig) {
            pcntl_signal($sig, $handler, false);
        }
        pcntl_signal(SIGTERM, static::$flavour === '4' ? SIG_IGN : $handler, false);
        pcntl_signal(SIGHUP, SIG_IGN, false);
        pcntl_signal(SIGTSTP, SIG_IGN, false);
        pcntl_signal(SIGIO, SIG_IGN, false);
        pcntl_signal(SIGPIPE, SIG_IGN, false);
    }

    /** @internal */
    public static function workerSignalHandler(int $sig): void
    {
        $worker = static::$current;
        switch ($sig) {
            case SIGINT:
            case SIGTERM:
                static::workerStop(false);
                break;
            case SIGQUIT:
                static::workerStop(true);
                break;
            case SIGUSR1:
            case SIGUSR2:
                if ($worker && $worker->onWorkerReload) {
                    try {
                        ($worker->onWorkerReload)($worker);
                    } catch (\Throwable $e) {
                        static::stopAll(250, $e);
                    }
                }
                if ($worker && $worker->reloadable) {
                    static::workerStop($sig === SIGUSR2);
                }
                break;
            case self::STATUS_SIGNAL:
                static::writeWorkerStatus();
                break;
        }
    }

    /**
     * Quick stop: close every connection and exit. Graceful stop: stop
     * accepting and exit once the last connection has closed.
     */
    protected static function workerStop(bool $graceful): void
    {
        if (!$graceful) {
            static::workerExit(0);
        }
        static::$gracefulStop = true;
        static::$workerStopping = true;
        if (static::$current) {
            static::$current->unlisten();
        }
    }

    protected static function workerExit(int $code): void
    {
        $worker = static::$current;
        if ($worker && $worker->onWorkerStop) {
            $cb = $worker->onWorkerStop;
            $worker->onWorkerStop = null;
            try {
                $cb($worker);
            } catch (\Throwable $e) {
                static::log($e);
            }
        }
        foreach (TcpConnection::$connections as $connection) {
            $connection->destroy();
        }
        exit($code);
    }

    /**
     * In the master: stop everything. In a worker: log $log (if any) and exit
     * with $code (250 for an uncaught exception in a callback).
     */
    public static function stopAll(int $code = 0, $log = ''): void
    {
        if ($log !== '' && $log !== null) {
            static::log($log);
        }
        if (static::$isMaster && static::$masterPid === posix_getpid()) {
            static::masterStop(false);
            return;
        }
        static::workerExit($code);
    }

    protected static function workerLoop(Worker $worker): void
    {
        while (true) {
            pcntl_signal_dispatch();
            Timer::tick();
            if (static::$workerStopping && !TcpConnection::$connections) {
                static::workerExit(0);
            }
            $read = [];
            $write = [];
            $byId = [];
            if ($worker->mainSocket && !static::$workerStopping) {
                $read[] = $worker->mainSocket;
            }
            foreach (TcpConnection::$connections as $connection) {
                $sock = $connection->getSocket();
                $byId[(int)$sock] = $connection;
                if ($connection->wantsRead()) {
                    $read[] = $sock;
                }
                if ($connection->wantsWrite()) {
                    $write[] = $sock;
                }
            }
            $timeout = 0.1;
            $due = Timer::nextDue();
            if ($due !== null && $due < $timeout) {
                $timeout = $due;
            }
            $usec = (int)($timeout * 1e6);
            if (!$read && !$write) {
                usleep(max(1000, $usec));
                continue;
            }
            $except = null;
            $n = @stream_select($read, $write, $except, 0, $usec);
            if (!$n) {
                continue;
            }
            foreach ($read as $sock) {
                if ($sock === $worker->mainSocket) {
                    // Tie-break between the workers woken for one new
                    // connection: lower slots try first, so an idle server
                    // hands new connections to slot 0, the first worker a
                    // reload replaces (see README "accept order").
                    if ($worker->id > 0) {
                        usleep(min(4, (int)$worker->id) * 1000);
                    }
                    $worker->acceptConnection();
                } elseif (isset($byId[(int)$sock])) {
                    $byId[(int)$sock]->handleRead();
                }
            }
            foreach ($write as $sock) {
                if (isset($byId[(int)$sock])) {
                    $byId[(int)$sock]->handleWrite();
                }
            }
        }
    }

    protected function acceptConnection(): void
    {
        if (!$this->mainSocket) {
            return;
        }
        $sock = @stream_socket_accept($this->mainSocket, 0, $peer);
        if (!$sock) {
            return; // another worker took it
        }
        $connection = new TcpConnection($sock, (string)$peer, $this->scheme, $this);
        if ($this->onConnect) {
            try {
                ($this->onConnect)($connection);
            } catch (\Throwable $e) {
                static::stopAll(250, $e);
            }
        }
    }

    // ==================================================================
    // Listening sockets
    // ==================================================================
    public function listen(): void
    {
        if ($this->socketName === '' || $this->mainSocket) {
            return;
        }
        $address = substr($this->socketName, strpos($this->socketName, '://') + 3);
        $options = $this->context;
        $options['socket'] = ($options['socket'] ?? []) + ['backlog' => 102400, 'so_reuseaddr' => true];
        if ($this->reusePort) {
            $options['socket']['so_reuseport'] = true;
        }
        $context = stream_context_create($options);
        $errno = 0;
        $errstr = '';
        $socket = @stream_socket_server("tcp://$address", $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $context);
        if (!$socket) {
            throw new \RuntimeException("$errstr ($this->socketName)");
        }
        stream_set_blocking($socket, false);
        $this->mainSocket = $socket;
    }

    public function unlisten(): void
    {
        if ($this->mainSocket) {
            @fclose($this->mainSocket);
            $this->mainSocket = null;
        }
    }

    public function pauseAccept(): void
    {
        // The select loop only watches mainSocket; a paused worker simply drops it.
        $this->unlisten();
    }

    public function stop(): void
    {
        static::workerStop(false);
    }

    // ==================================================================
    // Helpers
    // ==================================================================
    protected static function setTitle(string $title): void
    {
        if (function_exists('cli_set_process_title')) {
            @cli_set_process_title($title);
        }
    }

    /** Daemon: fds 0/1/2 to /dev/null and Worker::$stdoutFile, releasing the caller's terminal/pipes. */
    protected static function resetStd(): void
    {
        if (!static::$daemonize || static::$stdReset) {
            return;
        }
        $target = static::$stdoutFile ?: '/dev/null';
        $probe = @fopen($target, 'a');
        if (!$probe) {
            $target = '/dev/null';
        } else {
            fclose($probe);
        }
        foreach (['STDIN', 'STDOUT', 'STDERR'] as $name) {
            if (defined($name) && is_resource(constant($name))) {
                @fclose(constant($name));
            }
        }
        static::$stdStreams = [
            @fopen('/dev/null', 'r'),
            @fopen($target, 'a'),
            @fopen($target, 'a'),
        ];
        static::$stdReset = true;
    }

    /** Writes to stdout (after daemonizing that is Worker::$stdoutFile). */
    public static function safeEcho(string $msg, bool $force = false): void
    {
        echo $msg;
    }

    public static function log($msg): void
    {
        $msg = (string)$msg . "\n";
        if (!static::$daemonize) {
            static::safeEcho($msg);
        }
        if (static::$logFile) {
            @file_put_contents(static::$logFile, date('Y-m-d H:i:s') . ' pid:' . posix_getpid() . ' ' . $msg, FILE_APPEND | LOCK_EX);
        }
    }

    /** @internal shutdown function of worker processes */
    public static function checkErrors(): void
    {
        if (static::$status === self::STATUS_SHUTDOWN) {
            return;
        }
        $error = error_get_last();
        $fatal = [E_ERROR => 'E_ERROR', E_PARSE => 'E_PARSE', E_CORE_ERROR => 'E_CORE_ERROR',
            E_COMPILE_ERROR => 'E_COMPILE_ERROR', E_RECOVERABLE_ERROR => 'E_RECOVERABLE_ERROR'];
        if ($error && isset($fatal[$error['type']])) {
            static::log('Worker[' . posix_getpid() . '] process terminated with ERROR: ' . $fatal[$error['type']]
                . " \"{$error['message']} in {$error['file']} on line {$error['line']}\"");
        }
    }
}
