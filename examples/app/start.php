<?php
/**
 * Demo Workerman app for graceful-reload: `php start.php start -d`, then
 * `php start.php reload -g` after deploying new code under src/.
 *
 * Three worker groups:
 *   web      http://127.0.0.1:$APP_HTTP_PORT (default 18080), 4 processes, reloadable
 *   gateway  websocket://127.0.0.1:$APP_WS_PORT (default 18090), 2 processes, reloadable = false
 *   task     no listen, 1 process, reloadable
 *
 * Everything in this file lives in the master and only changes on a restart.
 * Code that should change on a reload is loaded inside the callbacks
 * (src/handler.php, src/task.php, src/version.php).
 *
 * Optional settings (read when the master starts), from the environment or,
 * where it does not set them, from a `.env` file beside this one (KEY=value
 * lines). A restart by a deploy tool starts the master in its own login
 * environment, so settings that must survive one belong in .env, which the
 * deploy excludes from the sync:
 *   APP_HTTP_PORT, APP_WS_PORT, WORKERMAN_PID_FILE, WORKERMAN_LOG_FILE
 *   APP_STATUS_PORT  adds the graceful-reload status worker (status/), answering
 *                    http://127.0.0.1:$APP_STATUS_PORT/status for `status: http`
 *   APP_STATUS_REGISTRY_DIR  where that worker keeps its registry (default: a
 *                    directory under the temp dir, removed when the master stops)
 *
 * Runs on Workerman 4.x and 5.x (vendor/ from Composer).
 */

use Workerman\Connection\TcpConnection;
use Workerman\Protocols\Http\Request;
use Workerman\Protocols\Http\Response;
use Workerman\Worker;

require_once __DIR__ . '/vendor/autoload.php';

if (is_file(__DIR__ . '/.env')) {
    foreach (file(__DIR__ . '/.env', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
        if (preg_match('/^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$/', $line, $setting) && getenv($setting[1]) === false) {
            putenv("{$setting[1]}={$setting[2]}");
        }
    }
}

if (getenv('WORKERMAN_PID_FILE')) {
    Worker::$pidFile = getenv('WORKERMAN_PID_FILE');
}
if (getenv('WORKERMAN_LOG_FILE')) {
    Worker::$logFile = getenv('WORKERMAN_LOG_FILE');
}

$httpPort = (int)(getenv('APP_HTTP_PORT') ?: 18080);
$wsPort = (int)(getenv('APP_WS_PORT') ?: 18090);

// ---------------------------------------------------------------- web
$web = new Worker("http://127.0.0.1:$httpPort");
$web->name = 'web';
$web->count = 4;
$web->onWorkerStart = function (Worker $worker) {
    // Loaded again by every new worker, so a reload picks up new code.
    $GLOBALS['app_handler'] = require __DIR__ . '/src/handler.php';
};
$web->onMessage = function (TcpConnection $connection, Request $request) {
    $connection->send(($GLOBALS['app_handler'])($request));
};

// ---------------------------------------------------------------- gateway
$gateway = new Worker("websocket://127.0.0.1:$wsPort");
$gateway->name = 'gateway';
$gateway->count = 2;
$gateway->reloadable = false;
$gateway->onMessage = function (TcpConnection $connection, $data) {
    $connection->send('echo: ' . $data);
};
$gateway->onWorkerReload = function (Worker $worker) {
    // Not reloadable: stays up (same pid) and keeps its connections.
};

// ---------------------------------------------------------------- task
$task = new Worker();
$task->name = 'task';
$task->count = 1;
$task->onWorkerStart = function (Worker $worker) {
    require __DIR__ . '/src/task.php';
};

// ---------------------------------------------------------------- status (optional)
// JSON for graceful-reload's `status: http`. Localhost only: the action
// fetches it on the host over SSH. Off unless APP_STATUS_PORT is set.
if (getenv('APP_STATUS_PORT')) {
    require_once __DIR__ . '/status/GracefulReloadStatus.php';
    \GracefulReload\StatusWorker::track($web, $gateway, $task);
    $statusOptions = ['path' => '/status'];
    if (getenv('APP_STATUS_REGISTRY_DIR')) {
        $statusOptions['registry_dir'] = getenv('APP_STATUS_REGISTRY_DIR');
    }
    \GracefulReload\StatusWorker::listen('http://127.0.0.1:' . (int)getenv('APP_STATUS_PORT'), $statusOptions);
}

Worker::runAll();
