<?php
/**
 * Request handler of the demo app's `web` workers. Loaded by every new web
 * worker in onWorkerStart, so a reload serves whatever this file (and
 * version.php) says at that moment.
 */

use Workerman\Protocols\Http\Request;
use Workerman\Protocols\Http\Response;

$version = require __DIR__ . '/version.php';

return function (Request $request) use ($version): Response {
    $headers = [
        'Content-Type' => 'text/plain',
        'X-Worker-Pid' => (string)posix_getpid(),
        'X-App-Version' => $version,
    ];
    switch ($request->path()) {
        case '/':
            return new Response(200, $headers, "hello from $version\n");
        case '/version':
            return new Response(200, $headers, "$version\n");
        case '/busy':
            // Keeps this worker busy (not answering signals) for ?s= seconds.
            $until = microtime(true) + (float)$request->get('s', 1);
            while (microtime(true) < $until) {
                usleep(10000);
            }
            return new Response(200, $headers, "done\n");
        case '/health':
            return new Response(200, $headers, "ok\n");
        default:
            return new Response(404, $headers, "not found\n");
    }
};
