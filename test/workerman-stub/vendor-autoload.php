<?php
require __DIR__ . '/workerman-stub/autoload.php';
