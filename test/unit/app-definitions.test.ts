import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DefinitionsError, parseDefinitions, type AppDefinitions } from '../../src/workerman/app-definitions.js';

/**
 * parseDefinitions on literal outputs of the definition probe: what real
 * Workerman prints (its usage text, then the probe's marker line), PHP's own
 * errors when the start script cannot run, and malformed JSON field by field.
 */

const MARKER = '@@graceful-reload-definitions@@';

/** Workerman 5.2.2's usage text, printed for the unknown command the probe passes. */
const USAGE = `Usage: php yourfile <command> [mode]
Commands: 
start\t\tStart worker in DEBUG mode.
\t\tUse mode -d to start in DAEMON mode.
stop\t\tStop worker.
\t\tUse mode -g to stop gracefully.
restart\t\tRestart workers.
\t\tUse mode -d to start in DAEMON mode.
\t\tUse mode -g to stop gracefully.
reload\t\tReload codes.
\t\tUse mode -g to reload gracefully.
status\t\tGet worker status.
\t\tUse mode -d to show live status.
connections\tGet worker connections.
`;

/** The probe's JSON for the example app on Workerman 5.2.2 (as printed, slashes unescaped). */
const GOOD = {
  php: '8.2.36',
  workerman: '5.2.2',
  appDir: '/srv/app',
  startFile: '/srv/app/start.php',
  pidFile: '/srv/app/workerman.start.php.pid',
  logFile: '/srv/app/workerman.log',
  statusFile: '/srv/app/workerman.start.php.status',
  stdoutFile: '/dev/null',
  stopTimeout: 2,
  groups: [
    { class: 'Workerman\\Worker', name: 'web', count: 4, reloadable: true, listen: 'http://127.0.0.1:18080', user: '' },
    { class: 'Workerman\\Worker', name: 'gateway', count: 2, reloadable: false, listen: 'websocket://127.0.0.1:18090', user: '' },
    { class: 'Workerman\\Worker', name: 'task', count: 1, reloadable: true, listen: 'none', user: 'www-data' },
  ],
  includedFiles: ['/srv/app/start.php', '/srv/app/vendor/autoload.php', '/srv/app/vendor/workerman/workerman/src/Worker.php'],
  fileTimes: { '/srv/app/start.php': 1796219826, '/srv/app/vendor/autoload.php': 1796219800 },
  opcache: { enableCli: false, validateTimestamps: true, loaded: true },
};

const EXPECTED: AppDefinitions = {
  workerman: '5.2.2',
  appDir: '/srv/app',
  php: '8.2.36',
  startFile: '/srv/app/start.php',
  pidFile: '/srv/app/workerman.start.php.pid',
  logFile: '/srv/app/workerman.log',
  statusFile: '/srv/app/workerman.start.php.status',
  stdoutFile: '/dev/null',
  stopTimeout: 2,
  groups: GOOD.groups,
  includedFiles: GOOD.includedFiles,
  fileTimes: GOOD.fileTimes,
  opcache: GOOD.opcache,
};

/** A probe run that printed `data` after Workerman's usage text. */
function output(data: unknown, extra: { stderr?: string; code?: number | null } = {}) {
  return { stdout: `${USAGE}\n${MARKER}${JSON.stringify(data)}\n`, stderr: extra.stderr ?? '', code: extra.code === undefined ? 0 : extra.code };
}

function rejects(result: { stdout: string; stderr: string; code: number | null; signal?: string }, message: RegExp | string): void {
  assert.throws(
    () => parseDefinitions(result),
    (error: unknown) => {
      assert.ok(error instanceof DefinitionsError, `a DefinitionsError, not ${String(error)}`);
      if (typeof message === 'string') assert.ok(error.message.includes(message), `"${error.message}" should include "${message}"`);
      else assert.match(error.message, message);
      return true;
    },
  );
}

describe('parseDefinitions: good output', () => {
  test('usage text, then the marker line: every field', () => {
    assert.deepEqual(parseDefinitions(output(GOOD)), EXPECTED);
  });

  test('what the start script itself printed, warnings on stderr, and Workerman 4 paths change nothing but the values', () => {
    const v4 = {
      ...GOOD,
      workerman: '4.2.1',
      pidFile: '/srv/app/vendor/workerman/_srv_app_start.php.pid',
      logFile: '/srv/app/vendor/workerman/workerman.log',
      statusFile: '',
    };
    const result = {
      stdout: `loading .env\nno newline here${'\n'}${USAGE}\n${MARKER}${JSON.stringify(v4)}\n`,
      stderr: 'PHP Deprecated:  Creation of dynamic property Foo::$bar is deprecated in /srv/app/config.php on line 3\n',
      code: 0,
    };
    const definitions = parseDefinitions(result);
    assert.equal(definitions.workerman, '4.2.1');
    assert.equal(definitions.pidFile, '/srv/app/vendor/workerman/_srv_app_start.php.pid');
    assert.equal(definitions.statusFile, '');
    assert.deepEqual(definitions.groups, GOOD.groups);
  });

  test('escaped slashes and unicode in the JSON are plain JSON', () => {
    const stdout = `${MARKER}{"php":"7.4.33","workerman":"4.1.15","appDir":"\\/srv\\/caf\\u00e9","startFile":"\\/srv\\/caf\\u00e9\\/start.php","pidFile":"\\/run\\/app.pid","logFile":"\\/var\\/log\\/app.log","statusFile":"","stdoutFile":"\\/dev\\/null","stopTimeout":2.5,"groups":[{"class":"Workerman\\\\Worker","name":"web","count":0,"reloadable":true,"listen":"http:\\/\\/0.0.0.0:80","user":""}],"includedFiles":[],"fileTimes":{},"opcache":{"enableCli":true,"validateTimestamps":false,"loaded":true}}\n`;
    const definitions = parseDefinitions({ stdout, stderr: '', code: 0 });
    assert.equal(definitions.startFile, '/srv/café/start.php');
    assert.equal(definitions.stopTimeout, 2.5);
    assert.deepEqual(definitions.groups, [{ class: 'Workerman\\Worker', name: 'web', count: 0, reloadable: true, listen: 'http://0.0.0.0:80', user: '' }]);
    assert.deepEqual(definitions.includedFiles, []);
    assert.deepEqual(definitions.opcache, { enableCli: true, validateTimestamps: false, loaded: true });
  });
});

describe('parseDefinitions: content hashes and what workers read again at start', () => {
  const hash = 'f'.repeat(64);
  const answers = {
    groups: [
      { group: 0, reread: ['/srv/app/config/app.php'] },
      { group: 2, error: 'onWorkerStart did not return within 10 s' },
    ],
    declaring: [],
  };

  test('read when the probe sends them', () => {
    const definitions = parseDefinitions(output({ ...GOOD, fileHashes: { '/srv/app/start.php': hash }, workerStart: answers }));
    assert.deepEqual(definitions.fileHashes, { '/srv/app/start.php': hash });
    assert.deepEqual(definitions.workerStart, answers);
    assert.deepEqual(parseDefinitions(output({ ...GOOD, workerStart: { error: 'pcntl_fork() is not available' } })).workerStart, {
      error: 'pcntl_fork() is not available',
    });
  });

  test('malformed ones are refused, naming the field and the expected form', () => {
    rejects(
      output({ ...GOOD, fileHashes: { '/srv/app/start.php': 'abc' } }),
      'the definition probe\'s "fileHashes" is not an object of sha-256 hashes: {"/srv/app/start.php":"abc"}',
    );
    rejects(
      output({ ...GOOD, workerStart: { groups: [{ group: 'web', reread: [] }], declaring: [] } }),
      'the definition probe\'s "workerStart.groups[0].group" is not a group index: "web"',
    );
    rejects(
      output({ ...GOOD, workerStart: { groups: [{ group: 0, reread: 'config.php' }], declaring: [] } }),
      '"workerStart.groups[0].reread" is not a list of paths',
    );
    rejects(output({ ...GOOD, workerStart: { groups: [] } }), '"workerStart.declaring" is not a list of paths');
    rejects(output({ ...GOOD, workerStart: [] }), 'the definition probe\'s "workerStart" is not an object: []');
  });
});

describe('parseDefinitions: the start script could not be run (no marker)', () => {
  test('a PHP fatal error on stderr: quoted, with the exit code', () => {
    rejects(
      {
        stdout: '',
        stderr: `PHP Fatal error:  Uncaught Error: Class "Dotenv\\Dotenv" not found in /srv/app/start.php:7
Stack trace:
#0 {main}
  thrown in /srv/app/start.php on line 7
`,
        code: 255,
      },
      /could not be run.*exit 255.*PHP Fatal error: {2}Uncaught Error: Class "Dotenv\\Dotenv" not found in \/srv\/app\/start\.php:7/,
    );
  });

  test('a parse error printed on stdout (display_errors=stdout in the host php.ini)', () => {
    rejects(
      { stdout: '\nParse error: syntax error, unexpected token "}" in /srv/app/start.php on line 40\n', stderr: '', code: 255 },
      'Parse error: syntax error, unexpected token "}" in /srv/app/start.php on line 40',
    );
  });

  test('no php binary: the shell says so', () => {
    rejects({ stdout: '', stderr: 'sh: 1: php8.3: not found\n', code: 127 }, /exit 127.*php8\.3: not found/);
  });

  test('a start file that is not there', () => {
    rejects({ stdout: '', stderr: 'Could not open input file: start.php\n', code: 1 }, 'Could not open input file: start.php');
  });

  test('no output at all, killed by a signal', () => {
    rejects({ stdout: '', stderr: '', code: null, signal: 'SIGKILL' }, /killed by SIGKILL.*\(no output\)/);
    rejects({ stdout: '', stderr: '', code: null }, /ended without an exit status.*\(no output\)/);
  });

  test('a marker not at the start of a line is no marker', () => {
    rejects({ stdout: `echo ${MARKER}${JSON.stringify(GOOD)}\n`, stderr: '', code: 0 }, /could not be run/);
  });
});

describe('parseDefinitions: the probe ran and reports a failure', () => {
  test('the error field: a fatal error while the start script ran, quoted', () => {
    rejects(
      output(
        {
          php: '8.2.36',
          error: 'syntax error, unexpected single-quoted string "name", expecting "]" in /srv/app/config/app.php on line 2',
          workerman: '5.2.2',
          groups: GOOD.groups,
        },
        { code: 255, stderr: 'PHP Parse error:  syntax error, unexpected single-quoted string "name", expecting "]" in /srv/app/config/app.php on line 2\n' },
      ),
      'the start script failed while its worker definitions were read: syntax error, unexpected single-quoted string "name", expecting "]" in /srv/app/config/app.php on line 2',
    );
  });

  test('the error field: Workerman was never loaded', () => {
    rejects(output({ php: '8.2.36', error: 'the start script did not load Workerman\\Worker' }), 'did not load Workerman\\Worker');
  });

  test('no groups: not the Workerman start script', () => {
    rejects(output({ ...GOOD, groups: [] }), /defines no Worker/);
  });

  test('the marker followed by something that is not JSON', () => {
    rejects({ stdout: `${MARKER}{"php":"8.2.36","groups":[\n`, stderr: '', code: 0 }, /not JSON: \{"php":"8\.2\.36","groups":\[/);
  });

  test('JSON that is not an object', () => {
    for (const data of [null, [], 'groups', 42]) rejects(output(data), /not an object/);
  });
});

describe('parseDefinitions: wrong field types, each named', () => {
  const wrong: Record<string, unknown[]> = {
    workerman: [5, null, undefined],
    php: [8.2, false],
    startFile: [null, ['/srv/app/start.php']],
    pidFile: [0, {}],
    logFile: [true],
    statusFile: [null],
    stdoutFile: [1],
    stopTimeout: ['2', null, undefined],
    includedFiles: ['/srv/app/start.php', [1, 2], null, [null]],
  };
  for (const [field, values] of Object.entries(wrong)) {
    test(`top level: "${field}"`, () => {
      for (const value of values) {
        const data: Record<string, unknown> = { ...GOOD, [field]: value };
        if (value === undefined) delete data[field];
        rejects(output(data), `"${field}"`);
      }
    });
  }

  const wrongInGroup: Record<string, unknown[]> = {
    class: [null, 1],
    name: [null, 7, undefined],
    count: ['4', -1, 1.5, null, true],
    reloadable: [1, 'false', null, undefined],
    listen: [null, false],
    user: [null, 0],
  };
  for (const [field, values] of Object.entries(wrongInGroup)) {
    test(`in a group: "${field}"`, () => {
      for (const value of values) {
        const groups = GOOD.groups.map((group) => ({ ...group })) as Record<string, unknown>[];
        groups[1]![field] = value;
        if (value === undefined) delete groups[1]![field];
        rejects(output({ ...GOOD, groups }), `"groups[1].${field}"`);
      }
    });
  }

  test('"groups" that is not a list, and a group that is not an object', () => {
    for (const groups of [null, {}, 'web', undefined]) {
      const data: Record<string, unknown> = { ...GOOD, groups };
      if (groups === undefined) delete data['groups'];
      rejects(output(data), '"groups" is not a list');
    }
    rejects(output({ ...GOOD, groups: [GOOD.groups[0], 'gateway'] }), 'groups[1]');
  });
});
