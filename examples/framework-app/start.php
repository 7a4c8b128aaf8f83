<?php
/**
 * A framework-style Workerman app: everything it writes at run time lives
 * under runtime/, the way widely used Workerman frameworks lay it out.
 *
 *   runtime/workerman.pid       the master's pid file      (Worker::$pidFile)
 *   runtime/workerman.status    the status file            (Worker::$statusFile)
 *   runtime/logs/stdout.log     the daemon's stdout        (Worker::$stdoutFile)
 *   runtime/logs/workerman.log  Workerman's log            (Worker::$logFile)
 *   runtime/sessions/sess_*     file sessions; the first web worker writes one
 *                               when the directory holds none
 *
 * A deploy ships the source tree (start.php, src/, at most runtime/.gitkeep)
 * and must not delete what is under runtime/: that would drop the pid file
 * and log every user out.
 *
 * One worker group:
 *   web  http://127.0.0.1:$APP_HTTP_PORT (default 18080), 2 processes, reloadable;
 *        answers `hello from <version>`, version from src/version.php, read
 *        when each worker starts (so a reload serves the new one); /config
 *        answers config/app.php's greeting and timezone
 *
 * config/app.php is loaded here, by the master (as frameworks do, to set
 * themselves up), and read again by every worker at its start through
 * support/bootstrap.php (webman's way): a reload applies a change to it, and
 * graceful-reload's definition probe sees both and does not ask for a restart.
 *
 * Works on Workerman 4.2 and 5.2 (in vendor/).
 */

use Workerman\Connection\TcpConnection;
use Workerman\Protocols\Http\Request;
use Workerman\Protocols\Http\Response;
use Workerman\Worker;

require_once __DIR__ . '/vendor/autoload.php';

define('APP_RUNTIME', __DIR__ . '/runtime');
// The master's own copy, for its set-up; workers read the file again (support/bootstrap.php).
$config = require __DIR__ . '/config/app.php';
date_default_timezone_set($config['timezone']);
foreach (['logs', 'sessions'] as $dir) {
    if (!is_dir(APP_RUNTIME . "/$dir")) {
        mkdir(APP_RUNTIME . "/$dir", 0777, true);
    }
}

Worker::$pidFile = APP_RUNTIME . '/workerman.pid';
Worker::$statusFile = APP_RUNTIME . '/workerman.status';
Worker::$stdoutFile = APP_RUNTIME . '/logs/stdout.log';
Worker::$logFile = APP_RUNTIME . '/logs/workerman.log';

$httpPort = (int)(getenv('APP_HTTP_PORT') ?: 18080);

$web = new Worker("http://127.0.0.1:$httpPort");
$web->name = 'web';
$web->count = 2;
$web->onWorkerStart = function (Worker $worker) {
    // Read by every new worker, so a reload serves the deployed version and configuration.
    require __DIR__ . '/support/bootstrap.php';
    $GLOBALS['app_version'] = require __DIR__ . '/src/version.php';
    if ($worker->id === 0 && !glob(APP_RUNTIME . '/sessions/sess_*')) {
        $id = bin2hex(random_bytes(16));
        file_put_contents(APP_RUNTIME . "/sessions/sess_$id", serialize(['created' => time(), 'user' => 'demo']));
    }
};
$web->onMessage = function (TcpConnection $connection, Request $request) {
    $version = $GLOBALS['app_version'];
    if ($request->path() === '/config') {
        $config = $GLOBALS['app_config'];
        $connection->send(new Response(200, ['Content-Type' => 'text/plain'], "{$config['greeting']} {$config['timezone']}\n"));
        return;
    }
    $connection->send(new Response(200, ['Content-Type' => 'text/plain', 'X-App-Version' => $version], "hello from $version\n"));
};

Worker::runAll();
