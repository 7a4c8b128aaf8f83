import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLine, quote } from '../../src/engine/shell-quote.js';
import { reloadSignalCommand } from '../../src/workerman/commands.js';
import { parseProbeOutput, parseWorkerTitle } from '../../src/workerman/host-probe.js';
import { rsyncArguments } from '../../src/adapters/rsync-sync.js';
import { parseRsyncStats } from '../../src/engine/rsync-output.js';
import { BRIDGE_RSH } from '../../src/adapters/rsync-bridge.js';
import { parseInputs } from '../../src/engine/inputs/inputs.js';

test('quote leaves safe words alone and single-quotes everything else', () => {
  assert.equal(quote('/srv/app'), '/srv/app');
  assert.equal(quote('a b'), `'a b'`);
  assert.equal(quote(`it's`), `'it'\\''s'`);
  assert.equal(quote('$(touch x)'), `'$(touch x)'`);
  assert.equal(quote(''), `''`);
  assert.throws(() => quote('a\0b'), /NUL/);
  assert.equal(commandLine(['php', 'start.php', 'reload', '-g']), 'php start.php reload -g');
});

test("the reload goes straight to the master: SIGUSR2 graceful, SIGUSR1 quick, as Workerman's own command sends", () => {
  assert.equal(reloadSignalCommand(8511, 'graceful'), 'kill -s USR2 8511');
  assert.equal(reloadSignalCommand(8511, 'quick'), 'kill -s USR1 8511');
});

test('worker titles give the group name, spaces included', () => {
  assert.deepEqual(parseWorkerTitle('WorkerMan: worker process  web http://0.0.0.0:8080'), { group: 'web', listen: 'http://0.0.0.0:8080' });
  assert.deepEqual(parseWorkerTitle('WorkerMan: worker process  my task none'), { group: 'my task', listen: 'none' });
  assert.equal(parseWorkerTitle('php-fpm: pool www'), null);
});

test('probe output is parsed; garbage is a clear error', () => {
  const probe = parseProbeOutput(JSON.stringify({ uptime: 1234.56, time: 1795238292.5, masters: [], workers: [] }));
  assert.equal(probe.uptime, 1234.56);
  assert.throws(() => parseProbeOutput('PHP Warning: something'), /not JSON/);
  assert.throws(() => parseProbeOutput('{"uptime":"x"}'), /unexpected shape: "uptime" is not a number/);
  const good = { uptime: 1, time: 2, masters: [{ pid: 9, ppid: 1, state: 'S', start: 5, title: 'x' }], workers: [] };
  assert.throws(() => parseProbeOutput(JSON.stringify({ ...good, masters: [{ ...good.masters[0], pid: '9' }] })), /"masters\[0\]\.pid" is not a number/);
  assert.throws(() => parseProbeOutput(JSON.stringify({ ...good, workers: [{ ...good.masters[0], title: null }] })), /"workers\[0\]\.title" is not a string/);
  assert.throws(() => parseProbeOutput(JSON.stringify({ ...good, log: { end: 'x', text: '' } })), /"log\.end" is not a number/);
  assert.throws(() => parseProbeOutput(JSON.stringify({ ...good, http: { status: '200' } })), /"http\.status" is not a number/);
  assert.deepEqual(parseProbeOutput(JSON.stringify({ ...good, log: { end: 3, text: 'abc' }, http: { status: 200, body: '{}', master_alive: true } })), {
    ...good,
    log: { end: 3, text: 'abc' },
    http: { status: 200, body: '{}', master_alive: true },
  });
});

test('rsync gets an argument array: excludes and protects as single arguments, source with trailing slash', () => {
  const plan = parseInputs(
    (name) =>
      ({
        hosts: 'deploy@[::1]:2200',
        'private-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----',
        'known-hosts': '[::1]:2200 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
        target: '/srv/app',
        source: 'build',
        exclude: '*.md\n$(touch x)',
      })[name] ?? '',
  );
  const args = rsyncArguments(plan.rollout);
  assert.ok(args.includes('--exclude=$(touch x)'));
  assert.ok(args.includes('--filter=protect *.pid'));
  assert.ok(args.includes('--delete') && args.includes('--delay-updates'));
  // The host part is a placeholder: rsync reaches the host through the bridge on its open connection.
  assert.deepEqual(args.slice(-3), ['--', 'build/', 'graceful-reload:/srv/app/']);
  assert.equal(args[args.indexOf('--rsh') + 1], BRIDGE_RSH);
  assert.ok(args.includes(`--rsync-path=env RSYNC_CHECKSUM_LIST='xxh3 xxh128 xxh64 md5 md4' rsync`), 'the host end prefers the checksum this end does');
  assert.deepEqual(parseRsyncStats('Number of deleted files: 2\nNumber of regular files transferred: 1,204\n'), { filesTransferred: 1204, filesDeleted: 2 });
});

test('itemized changes: deleted files named (at most 20), watched paths reported, lines split across chunks, attribute-only changes ignored', async () => {
  const { ItemizedChanges } = await import('../../src/engine/rsync-output.js');
  const changes = new ItemizedChanges((path) => path.endsWith('.php'));
  changes.add('<fcs....... src/a.php\n*deleting   src/ol');
  changes.add(
    'd.php\n*deleting   my file.txt\ncd+++++++++ new/\n.f...p..... start.php\n>f+++++++++ config/boot.php\n<f.st...... start.php\ncL+++++++++ link.php -> a.php\n',
  );
  assert.deepEqual(changes.deleted, ['src/old.php', 'my file.txt']);
  assert.deepEqual(changes.watched, ['src/a.php', 'src/old.php', 'config/boot.php', 'start.php', 'link.php']);
  for (let i = 0; i < 30; i++) changes.add(`*deleting   f${i}\n`);
  assert.equal(changes.deleted.length, 20);
  assert.equal(changes.deleted[19], 'f17');
});

test('itemized changes: only new content in existing .php files leaves the tree as the start script saw it; anything else does not', async () => {
  const { ItemizedChanges } = await import('../../src/engine/rsync-output.js');
  const after = (lines: string) => {
    const changes = new ItemizedChanges();
    changes.add(lines);
    return changes.phpEditsOnly;
  };
  assert.equal(after(''), true, 'nothing changed');
  assert.equal(after('<fcs....... src/a.php\n<f.st...... src/b.php\n.f...p..... .env\n.d..t...... src/\n'), true, 'php edits, attribute-only changes');
  assert.equal(after('<fcs....... .env\n'), false, 'a file the start script may read without including it');
  assert.equal(after('<fcs....... config/app.json\n'), false);
  assert.equal(after('<f+++++++++ config/extra.php\n'), false, 'a new file a glob may pick up');
  assert.equal(after('*deleting   config/old.php\n'), false);
  assert.equal(after('cd+++++++++ plugins/\n'), false);
  assert.equal(after('cL+++++++++ current.php -> a.php\n'), false);
  assert.equal(after('cLc.T...... link -> elsewhere\n'), false, 'a link pointed elsewhere');
  assert.equal(after('hf+++++++++ copy.php => a.php\n'), false);
});
