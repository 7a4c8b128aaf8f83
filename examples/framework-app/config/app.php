<?php
// Plain data, loaded by the master and read again by every worker at its
// start (support/bootstrap.php): a reload applies a change here.
return [
    'greeting' => 'hello',
    'timezone' => 'UTC',
];
