<?php
/**
 * Run by every worker at its start, in the manner of webman's
 * support/bootstrap.php: the configuration is read again from config/, so a
 * reload serves what was deployed there. Only plain data belongs in config/:
 * a class or function declared there would stay as the master loaded it.
 */
$GLOBALS['app_config'] = require __DIR__ . '/../config/app.php';
date_default_timezone_set($GLOBALS['app_config']['timezone']);
