<?php
/**
 * graceful-reload's definition probe. Run as
 *   php -d auto_prepend_file=<this file> start.php <a command Workerman does not know>
 * The start script then runs its top-level code (the code a fresh master would
 * load), Workerman prints its usage and exits 0 without signalling or starting
 * anything, and the shutdown function below reports what the script defined:
 * every Worker (in definition order, the order the master replaces them in),
 * the runtime file paths as the app set them, and the files loaded at top
 * level (the master-level code, which a reload does not refresh).
 *
 * One line on stdout: MARKER followed by JSON. Runs on PHP 7.2+ and Workerman
 * 4.x and 5.x: no syntax newer than PHP 7.2.
 *
 * The second question, "which of those files does a new worker read again at
 * its start?", is answered by GracefulReloadWorkerStart below.
 */

register_shutdown_function(function () {
    $marker = '@@graceful-reload-definitions@@';
    $out = array('php' => PHP_VERSION);
    $error = error_get_last();
    $fatal = array(E_ERROR, E_PARSE, E_CORE_ERROR, E_COMPILE_ERROR, E_USER_ERROR, E_RECOVERABLE_ERROR);
    if ($error !== null && in_array($error['type'], $fatal, true)) {
        $out['error'] = sprintf('%s in %s on line %d', $error['message'], $error['file'], $error['line']);
    }
    if (!class_exists('Workerman\\Worker', false)) {
        if (!isset($out['error'])) {
            $out['error'] = 'the start script did not load Workerman\\Worker';
        }
        echo "\n", $marker, json_encode($out), "\n";
        return;
    }
    $class = 'Workerman\\Worker';
    $static = function ($names) use ($class) {
        // 5.x keeps these as public or protected statics, 4.x some with a leading "_".
        foreach ((array) $names as $name) {
            if (property_exists($class, $name)) {
                $property = new ReflectionProperty($class, $name);
                $property->setAccessible(true);
                return $property->getValue();
            }
        }
        return null;
    };
    // 4.x builds its default paths from vendor/workerman/workerman/../; the
    // pid and log files may not exist yet, so only their directory is resolved.
    $resolve = function ($path) {
        if (!is_string($path) || $path === '' || strpos($path, '://') !== false) {
            return $path;
        }
        $dir = realpath(dirname($path));
        return $dir === false ? $path : rtrim($dir, '/') . '/' . basename($path);
    };
    $out['workerman'] = constant($class . '::VERSION');
    // The probe runs from the target: its real path, for a target reached through a symlink.
    $out['appDir'] = (string) getcwd();
    $out['startFile'] = $resolve($static(array('startFile', '_startFile')));
    $out['pidFile'] = $resolve($static('pidFile'));
    $out['logFile'] = $resolve($static('logFile'));
    $out['statusFile'] = $resolve($static('statusFile'));
    $out['stdoutFile'] = $resolve($static('stdoutFile'));
    $out['stopTimeout'] = $static('stopTimeout');
    $groups = array();
    foreach (call_user_func(array($class, 'getAllWorkers')) as $worker) {
        $groups[] = array(
            'class' => get_class($worker),
            'name' => (string) $worker->name,
            'count' => (int) $worker->count,
            'reloadable' => (bool) $worker->reloadable,
            'listen' => (string) $worker->getSocketName(),
            'user' => (string) $worker->user,
        );
    }
    $out['groups'] = $groups;
    // This probe is a temp file of its own, not the app's code.
    $out['includedFiles'] = array_values(array_diff(get_included_files(), array(__FILE__)));
    // When each master-level file last changed on this host: one newer than
    // the running master was changed after it loaded it.
    $times = array();
    foreach ($out['includedFiles'] as $file) {
        $time = @filemtime($file);
        if ($time !== false) {
            $times[$file] = $time;
        }
    }
    $out['fileTimes'] = (object) $times;
    // What each master-level file holds: a file whose content equals what the
    // running master loaded is no change, whatever its time says.
    $hashes = array();
    foreach ($out['includedFiles'] as $file) {
        $hash = @hash_file('sha256', $file);
        if ($hash !== false) {
            $hashes[$file] = $hash;
        }
    }
    $out['fileHashes'] = (object) $hashes;
    // Which of them a new worker reads again at its start (so a reload applies them).
    if (getenv('GRACEFUL_RELOAD_WORKER_START') !== '0') {
        $out['workerStart'] = GracefulReloadWorkerStart::probe(call_user_func(array($class, 'getAllWorkers')), $out['includedFiles']);
    }
    // With these, new workers may run bytecode cached before the deploy.
    $out['opcache'] = array(
        'enableCli' => (bool) filter_var(ini_get('opcache.enable_cli'), FILTER_VALIDATE_BOOLEAN),
        'validateTimestamps' => (bool) filter_var(ini_get('opcache.validate_timestamps'), FILTER_VALIDATE_BOOLEAN),
        'loaded' => extension_loaded('Zend OPcache'),
    );
    $flags = defined('JSON_INVALID_UTF8_SUBSTITUTE') ? JSON_INVALID_UTF8_SUBSTITUTE : JSON_PARTIAL_OUTPUT_ON_ERROR;
    echo "\n", $marker, json_encode($out, $flags | JSON_UNESCAPED_SLASHES), "\n";
});

/**
 * Which master-level files a new worker reads again at its start. A worker is
 * a fork of the master: what the master loaded, it has; what its
 * onWorkerStart loads, it loads from disk, so a reload applies a change to it.
 * A file both loaded by the master and read again at every reloadable
 * group's start (webman's config/, re-read by support/bootstrap.php) is then
 * not frozen in the master, unless it declares a class, function or
 * constant, which the worker keeps from the master.
 *
 * How it is answered: for each reloadable group, a child is forked from this
 * process (which holds what a fresh master would) and runs that group's
 * onWorkerStart, as a new worker would, with a file:// stream wrapper that
 * sees every include and require. Workerman's event loop is never run, so no
 * timer fires and nothing listens; whatever the callback opens (a database
 * connection, say) ends with the child, which is killed (SIGKILL, so no
 * destructor or shutdown function runs) as soon as it has answered, or after
 * TIMEOUT seconds. A callback that throws, hangs or dies answers nothing, and
 * the caller then keeps every file master-level, saying why.
 * GatewayWorker's BusinessWorker wires its own start (which connects to the
 * Register) only when it runs; here its user callback and its event
 * handler's onWorkerStart are called, as BusinessWorker calls them.
 */
final class GracefulReloadWorkerStart
{
    /** Seconds all groups' children get together: a start that takes longer answers nothing. */
    const TIMEOUT = 10;

    /**
     * @param array $workers Workerman\Worker objects, as getAllWorkers() lists them
     * @param string[] $included the files the start script loaded at top level
     * @return array array('groups' => per group index: array('reread' => files) or array('error' => why); 'declaring' => files) or array('error' => why)
     */
    public static function probe($workers, $included)
    {
        foreach (array('pcntl_fork', 'pcntl_waitpid', 'posix_kill', 'posix_getpid') as $function) {
            if (!function_exists($function)) {
                return array('error' => "$function() is not available to PHP's CLI");
            }
        }
        $children = array();
        $groups = array();
        $index = -1;
        foreach ($workers as $worker) {
            $index++;
            if (!$worker->reloadable) {
                continue;
            }
            $child = self::fork($worker, $included);
            if (is_string($child)) {
                $groups[$index] = array('error' => $child);
            } else {
                $children[$index] = $child;
            }
        }
        foreach (self::collect($children) as $at => $answer) {
            $groups[$at] = $answer;
        }
        ksort($groups);
        $reread = array();
        foreach ($groups as $at => $answer) {
            $groups[$at] = array('group' => $at) + $answer;
            if (isset($answer['reread'])) {
                $reread = array_merge($reread, $answer['reread']);
            }
        }
        $declaring = array();
        foreach (array_unique($reread) as $file) {
            if (self::declares($file)) {
                $declaring[] = $file;
            }
        }
        return array('groups' => array_values($groups), 'declaring' => $declaring);
    }

    /** A child running the group's start; array('pid', 'pipe'), or why there is none. */
    private static function fork($worker, $included)
    {
        $pair = @stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        if ($pair === false) {
            return 'cannot create a socket pair for the worker-start probe';
        }
        $pid = pcntl_fork();
        if ($pid === -1) {
            fclose($pair[0]);
            fclose($pair[1]);
            return 'cannot fork the worker-start probe';
        }
        if ($pid === 0) {
            fclose($pair[0]);
            self::child($worker, $included, $pair[1]);
        }
        fclose($pair[1]);
        stream_set_blocking($pair[0], false);
        return array('pid' => $pid, 'pipe' => $pair[0]);
    }

    /** In the child: runs the start, writes the answer, and dies without any clean-up of the app's. */
    private static function child($worker, $included, $pipe)
    {
        if (function_exists('cli_set_process_title')) {
            // Not titled as a master while it runs: a process listing must not see two.
            @cli_set_process_title('graceful-reload definitions probe: worker start');
        }
        // An app can skip effects that must not happen outside a real worker (not its includes).
        if (!defined('GRACEFUL_RELOAD_PROBE')) {
            define('GRACEFUL_RELOAD_PROBE', true);
        }
        $answer = array();
        GracefulReloadIncludeWatch::start();
        try {
            self::startWorker($worker);
            $answer['reread'] = array_values(array_intersect($included, GracefulReloadIncludeWatch::stop()));
        } catch (Throwable $error) {
            GracefulReloadIncludeWatch::stop();
            $answer['error'] = sprintf('onWorkerStart threw %s: %s in %s on line %d', get_class($error), $error->getMessage(), $error->getFile(), $error->getLine());
        }
        fwrite($pipe, json_encode($answer, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR));
        fclose($pipe);
        posix_kill(posix_getpid(), SIGKILL);
        exit(1);
    }

    /** What a new worker of this group runs at its start, before its event loop. */
    private static function startWorker($worker)
    {
        if (is_callable($worker->onWorkerStart)) {
            call_user_func($worker->onWorkerStart, $worker);
        }
        // GatewayWorker's BusinessWorker then calls its event handler's onWorkerStart.
        if (is_a($worker, 'GatewayWorker\\BusinessWorker') && isset($worker->eventHandler) && is_string($worker->eventHandler)
            && is_callable($worker->eventHandler . '::onWorkerStart')) {
            call_user_func($worker->eventHandler . '::onWorkerStart', $worker);
        }
    }

    /** Each child's answer, by group index; a child that does not answer in time is killed. */
    private static function collect($children)
    {
        $data = array();
        $open = array();
        foreach ($children as $index => $child) {
            $data[$index] = '';
            $open[$index] = $child['pipe'];
        }
        $deadline = microtime(true) + self::TIMEOUT;
        while ($open && ($left = $deadline - microtime(true)) > 0) {
            $read = array_values($open);
            $none = null;
            if (@stream_select($read, $none, $none, (int) $left, (int) (($left - (int) $left) * 1000000)) === false) {
                break;
            }
            foreach ($open as $index => $pipe) {
                if (!in_array($pipe, $read, true)) {
                    continue;
                }
                $chunk = fread($pipe, 65536);
                if ($chunk === '' || $chunk === false) {
                    fclose($pipe);
                    unset($open[$index]);
                } else {
                    $data[$index] .= $chunk;
                }
            }
        }
        $answers = array();
        foreach ($children as $index => $child) {
            if (isset($open[$index])) {
                fclose($open[$index]);
                posix_kill($child['pid'], SIGKILL);
            }
            pcntl_waitpid($child['pid'], $status);
            $answer = json_decode($data[$index], true);
            if (isset($open[$index])) {
                $answer = array('error' => sprintf('onWorkerStart did not return within %d s', self::TIMEOUT));
            } elseif (!is_array($answer) || !(isset($answer['reread']) || isset($answer['error']))) {
                $answer = array('error' => 'onWorkerStart ended the process without returning (exit, or a fatal error)');
            }
            $answers[$index] = $answer;
        }
        return $answers;
    }

    /** Whether a file declares a named class, interface, trait, enum, function or constant. */
    public static function declares($file)
    {
        $code = @file_get_contents($file);
        if ($code === false) {
            return true;
        }
        $kinds = array(T_CLASS, T_INTERFACE, T_TRAIT);
        if (defined('T_ENUM')) {
            $kinds[] = T_ENUM;
        }
        $tokens = array_values(array_filter(token_get_all($code), function ($token) {
            return !is_array($token) || !in_array($token[0], array(T_WHITESPACE, T_COMMENT, T_DOC_COMMENT), true);
        }));
        foreach ($tokens as $at => $token) {
            if (!is_array($token)) {
                continue;
            }
            $before = $at > 0 && is_array($tokens[$at - 1]) ? $tokens[$at - 1][0] : null;
            $after = isset($tokens[$at + 1]) ? $tokens[$at + 1] : null;
            if ($after === '&' && isset($tokens[$at + 2])) {
                $after = $tokens[$at + 2];
            }
            // `new class` and `Foo::class` declare nothing; `function (` is a closure.
            if (in_array($token[0], $kinds, true) && $before !== T_NEW && $before !== T_DOUBLE_COLON) {
                return true;
            }
            if ($token[0] === T_FUNCTION && is_array($after) && $after[0] === T_STRING) {
                return true;
            }
            if ($token[0] === T_CONST) {
                return true;
            }
            if (strtolower(ltrim($token[1], '\\')) === 'define' && $after === '(' && $before !== T_OBJECT_OPERATOR && $before !== T_DOUBLE_COLON && $before !== T_FUNCTION) {
                return true;
            }
        }
        return false;
    }
}

/**
 * A file:// stream wrapper that notes every file opened for include or
 * require and hands each operation to PHP's own plain-file wrapper (restored
 * for the call). Installed only in the worker-start probe's child.
 */
final class GracefulReloadIncludeWatch
{
    /** PHP's STREAM_OPEN_FOR_INCLUDE: the open is an include or require (no userland constant). */
    const FOR_INCLUDE = 128;

    /** @var resource|null */
    public $context;
    /** @var resource|null */
    private $handle;
    /** @var string[] resolved paths opened for include, in order */
    private static $opened = array();

    public static function start()
    {
        self::$opened = array();
        stream_wrapper_unregister('file');
        stream_wrapper_register('file', __CLASS__);
    }

    /** Puts PHP's own wrapper back; returns the files opened for include since start(). */
    public static function stop()
    {
        @stream_wrapper_restore('file');
        return array_values(array_unique(self::$opened));
    }

    /** Runs a path operation with the real wrapper in place. */
    private static function real($operation)
    {
        stream_wrapper_restore('file');
        try {
            return $operation();
        } finally {
            stream_wrapper_unregister('file');
            stream_wrapper_register('file', __CLASS__);
        }
    }

    public function stream_open($path, $mode, $options, &$openedPath)
    {
        $context = $this->context;
        $quiet = ($options & STREAM_REPORT_ERRORS) === 0;
        $this->handle = self::real(function () use ($path, $mode, $options, $context, $quiet) {
            $usePath = ($options & STREAM_USE_PATH) !== 0;
            if ($context !== null) {
                return $quiet ? @fopen($path, $mode, $usePath, $context) : fopen($path, $mode, $usePath, $context);
            }
            return $quiet ? @fopen($path, $mode, $usePath) : fopen($path, $mode, $usePath);
        });
        if ($this->handle === false) {
            return false;
        }
        $real = self::real(function () use ($path) {
            return realpath($path);
        });
        if ($real !== false) {
            $openedPath = $real;
            if (($options & self::FOR_INCLUDE) !== 0) {
                self::$opened[] = $real;
            }
        }
        return true;
    }

    public function stream_read($count)
    {
        return fread($this->handle, $count);
    }

    public function stream_write($data)
    {
        return fwrite($this->handle, $data);
    }

    public function stream_eof()
    {
        return feof($this->handle);
    }

    public function stream_tell()
    {
        return ftell($this->handle);
    }

    public function stream_seek($offset, $whence)
    {
        return fseek($this->handle, $offset, $whence) === 0;
    }

    public function stream_flush()
    {
        return fflush($this->handle);
    }

    public function stream_stat()
    {
        return fstat($this->handle);
    }

    public function stream_lock($operation)
    {
        return $operation === 0 ? false : flock($this->handle, $operation);
    }

    public function stream_truncate($size)
    {
        return ftruncate($this->handle, $size);
    }

    public function stream_set_option($option, $arg1, $arg2)
    {
        return false;
    }

    public function stream_cast($castAs)
    {
        return $this->handle;
    }

    public function stream_close()
    {
        fclose($this->handle);
    }

    public function stream_metadata($path, $option, $value)
    {
        return self::real(function () use ($path, $option, $value) {
            switch ($option) {
                case STREAM_META_TOUCH:
                    return empty($value) ? touch($path) : touch($path, $value[0], $value[1]);
                case STREAM_META_OWNER_NAME:
                case STREAM_META_OWNER:
                    return chown($path, $value);
                case STREAM_META_GROUP_NAME:
                case STREAM_META_GROUP:
                    return chgrp($path, $value);
                case STREAM_META_ACCESS:
                    return chmod($path, $value);
            }
            return false;
        });
    }

    public function url_stat($path, $flags)
    {
        return self::real(function () use ($path, $flags) {
            $stat = ($flags & STREAM_URL_STAT_LINK) !== 0 ? @lstat($path) : @stat($path);
            if ($stat === false && ($flags & STREAM_URL_STAT_QUIET) === 0) {
                trigger_error("stat failed for $path", E_USER_WARNING);
            }
            return $stat;
        });
    }

    public function unlink($path)
    {
        return self::real(function () use ($path) {
            return unlink($path);
        });
    }

    public function rename($from, $to)
    {
        return self::real(function () use ($from, $to) {
            return rename($from, $to);
        });
    }

    public function mkdir($path, $mode, $options)
    {
        return self::real(function () use ($path, $mode, $options) {
            return mkdir($path, $mode, ($options & STREAM_MKDIR_RECURSIVE) !== 0);
        });
    }

    public function rmdir($path, $options)
    {
        return self::real(function () use ($path) {
            return rmdir($path);
        });
    }

    public function dir_opendir($path, $options)
    {
        $this->handle = self::real(function () use ($path) {
            return opendir($path);
        });
        return $this->handle !== false;
    }

    public function dir_readdir()
    {
        return readdir($this->handle);
    }

    public function dir_rewinddir()
    {
        rewinddir($this->handle);
        return true;
    }

    public function dir_closedir()
    {
        closedir($this->handle);
    }
}
