<?php
/**
 * Event handler of the BusinessWorkers. Required inside each BusinessWorker
 * process (never by the master), so a reload runs whatever this file and
 * version.php say at that moment.
 */

namespace GatewayApp;

use GatewayWorker\Lib\Gateway;

class Events
{
    /** @var string the version this worker loaded when it started */
    private static $version = '?';

    public static function onWorkerStart($businessWorker)
    {
        self::$version = require __DIR__ . '/version.php';
    }

    /**
     * One line from a client: answered with `<version>: <line>`.
     *
     * @param string $clientId
     * @param string $message
     */
    public static function onMessage($clientId, $message)
    {
        Gateway::sendToCurrentClient(self::$version . ': ' . $message);
    }
}
