<?php
/**
 * Minimal timer for the Workerman stand-in. Timers run inside worker
 * processes only (driven by the worker's select loop).
 */

namespace Workerman;

class Timer
{
    /** @var array<int, array{0: float, 1: callable, 2: array, 3: bool, 4: float}> */
    protected static array $tasks = [];

    protected static int $nextId = 1;

    public static function add(float $timeInterval, callable $func, array $args = [], bool $persistent = true): int
    {
        if ($timeInterval <= 0) {
            $timeInterval = 0.001;
        }
        $id = static::$nextId++;
        static::$tasks[$id] = [microtime(true) + $timeInterval, $func, $args, $persistent, $timeInterval];
        return $id;
    }

    public static function del(int $timerId): bool
    {
        if (isset(static::$tasks[$timerId])) {
            unset(static::$tasks[$timerId]);
            return true;
        }
        return false;
    }

    public static function delAll(): void
    {
        static::$tasks = [];
    }

    public static function count(): int
    {
        return count(static::$tasks);
    }

    /** Seconds until the next timer is due (null when there is none). */
    public static function nextDue(): ?float
    {
        $min = null;
        foreach (static::$tasks as $task) {
            if ($min === null || $task[0] < $min) {
                $min = $task[0];
            }
        }
        return $min === null ? null : max(0.0, $min - microtime(true));
    }

    /** Runs every timer that is due. Called by the worker loop. */
    public static function tick(): void
    {
        $now = microtime(true);
        foreach (static::$tasks as $id => $task) {
            if ($task[0] > $now) {
                continue;
            }
            if ($task[3]) {
                static::$tasks[$id][0] = $now + $task[4];
            } else {
                unset(static::$tasks[$id]);
            }
            ($task[1])(...$task[2]);
        }
    }
}
