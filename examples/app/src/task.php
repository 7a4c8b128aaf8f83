<?php
/**
 * Background `task` worker of the demo app (no listen). Loaded in
 * onWorkerStart, so a reload picks up changes here too.
 */

use Workerman\Timer;

$version = require __DIR__ . '/version.php';

Timer::add(30, function () use ($version) {
    // Periodic housekeeping would go here.
});
