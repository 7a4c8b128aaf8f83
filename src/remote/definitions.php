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
    // With these, new workers may run bytecode cached before the deploy.
    $out['opcache'] = array(
        'enableCli' => (bool) filter_var(ini_get('opcache.enable_cli'), FILTER_VALIDATE_BOOLEAN),
        'validateTimestamps' => (bool) filter_var(ini_get('opcache.validate_timestamps'), FILTER_VALIDATE_BOOLEAN),
        'loaded' => extension_loaded('Zend OPcache'),
    );
    $flags = defined('JSON_INVALID_UTF8_SUBSTITUTE') ? JSON_INVALID_UTF8_SUBSTITUTE : JSON_PARTIAL_OUTPUT_ON_ERROR;
    echo "\n", $marker, json_encode($out, $flags | JSON_UNESCAPED_SLASHES), "\n";
});
