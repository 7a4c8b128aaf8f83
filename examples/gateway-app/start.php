<?php
/**
 * A small GatewayWorker app, the long-connection architecture Workerman
 * recommends: `php start.php start -d`, then `php start.php reload` after
 * deploying new code under src/.
 *
 * Three worker groups, in this order:
 *   Register        text://127.0.0.1:$APP_REGISTER_PORT (default 1238), 1 process, reloadable = false
 *   Gateway         text://127.0.0.1:$APP_GATEWAY_PORT (default 18282), 2 processes, reloadable = false;
 *                   each also listens on 127.0.0.1:$APP_GATEWAY_START_PORT + n (default 2900) for the
 *                   BusinessWorkers
 *   BusinessWorker  no listen, 4 processes, reloadable; holds connections to the Register and
 *                   every Gateway, and runs GatewayApp\Events for each client message
 *
 * Clients speak the `text` protocol (one message per line) to the Gateway and
 * get `<version>: <message>` back, version from src/version.php.
 *
 * What a reload refreshes: this file, and anything it requires, lives in the
 * master and changes only on a restart. It registers an autoloader for src/
 * but loads no class from it; src/Events.php is first required inside each
 * BusinessWorker process (when BusinessWorker looks up its event handler in
 * onWorkerStart), and src/version.php is read there too. A `reload` replaces
 * the BusinessWorkers, which load the new code; the Register and Gateways keep
 * running, and so do the clients' connections. A graceful `reload -g` cannot
 * finish here: a BusinessWorker's own connections to the Register and Gateways
 * never close, so the first one never exits.
 *
 * Works on Workerman 4.2 and 5.2 with GatewayWorker 4.0 (in vendor/).
 */

use GatewayWorker\BusinessWorker;
use GatewayWorker\Gateway;
use GatewayWorker\Register;
use Workerman\Worker;

require_once __DIR__ . '/vendor/autoload.php';

// GatewayApp\Foo is src/Foo.php, required the first time a process uses it.
spl_autoload_register(function ($class) {
    $prefix = 'GatewayApp\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

$registerPort = (int)(getenv('APP_REGISTER_PORT') ?: 1238);
$gatewayPort = (int)(getenv('APP_GATEWAY_PORT') ?: 18282);
$gatewayStartPort = (int)(getenv('APP_GATEWAY_START_PORT') ?: 2900);
$registerAddress = "127.0.0.1:$registerPort";

// ---------------------------------------------------------------- Register
$register = new Register("text://$registerAddress");
$register->name = 'Register';

// ---------------------------------------------------------------- Gateway
$gateway = new Gateway("text://127.0.0.1:$gatewayPort");
$gateway->name = 'Gateway';
$gateway->count = 2;
$gateway->lanIp = '127.0.0.1';
$gateway->startPort = $gatewayStartPort;
$gateway->registerAddress = $registerAddress;

// ---------------------------------------------------------------- BusinessWorker
$business = new BusinessWorker();
$business->name = 'BusinessWorker';
$business->count = 4;
$business->registerAddress = $registerAddress;
$business->eventHandler = 'GatewayApp\Events';

Worker::runAll();
