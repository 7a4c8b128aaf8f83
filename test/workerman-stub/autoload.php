<?php
/**
 * Autoloader for the Workerman stand-in used by graceful-reload's tests.
 * Locates src/ relative to this file, so the directory can be copied
 * anywhere (e.g. <app>/vendor/workerman-stub/).
 */
spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Workerman\\', 10) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 10)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
