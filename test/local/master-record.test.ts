import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHostSpec } from '../../src/engine/inputs/host-spec.js';
import type { HostRun } from '../../src/rollout/context.js';
import { parseRecord, recordLoaded, recordPath, recordReadCommand, recordWriteCommand } from '../../src/rollout/master-record.js';
import { localShell, recordingLog, testSettings } from '../unit/local-host.js';

/**
 * The record of what a master loaded, written and read by the action's own
 * shell commands, run locally with `sh -c` against real processes in /proc:
 * the record matches the process it names, and no other.
 */

let root: string;
let sleeper: ChildProcess;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'gr-master-record-'));
  // A process standing in for a master: alive, with a start time in /proc.
  sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
});

after(async () => {
  sleeper.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

const FILES = { '/srv/app/start.php': 'a'.repeat(64), '/srv/app/it\'s "quoted" $HOME.php': 'b'.repeat(64) };

/** The read command's output, as preflight gets it after the definition probe. */
async function readBack(target: string): Promise<string> {
  const result = await localShell().run(`printf 'probe output\\n'; (exit 7)\n${recordReadCommand(target)}`);
  assert.equal(result.code, 7, 'the read keeps the exit code of the command before it');
  return result.stdout;
}

function hostRun(target: string, lines: string[]): HostRun {
  const settings = testSettings({ target, commandTimeoutMs: 5000 });
  const io = {
    log: recordingLog(lines),
    openShell: async () => localShell(),
    fileSync: () => {
      throw new Error('no sync here');
    },
    statusSource: () => {
      throw new Error('no source here');
    },
  };
  return {
    host: parseHostSpec('deploy@web1:22', { username: 'root', port: 22 }),
    label: 'web1',
    settings,
    io,
    shell: localShell(),
    now: Date.now,
    facts: { step: 'restart', filesChanged: true, signalled: true },
  };
}

test('written beside the target, read back for the process it names: the files, their hashes, nothing left over', async () => {
  const target = join(root, 'one', 'app');
  await mkdir(target, { recursive: true });
  const lines: string[] = [];
  await recordLoaded(hostRun(target, lines), sleeper.pid!, { fileHashes: FILES });
  assert.match(lines.join('\n'), /recorded what master \d+ loaded \(2 files\)/);
  assert.equal(recordPath(target), join(root, 'one', '.app.graceful-reload', 'master.json'));
  assert.deepEqual(await readdir(join(root, 'one', '.app.graceful-reload')), ['master.json'], 'the temporary file was renamed into place');
  const written = JSON.parse(await readFile(recordPath(target), 'utf8')) as Record<string, unknown>;
  assert.equal(written['pid'], sleeper.pid);
  // /proc/<pid>/stat field 22, which never changes for a process.
  const stat = await readFile(`/proc/${sleeper.pid}/stat`, 'utf8');
  assert.equal(written['startTicks'], stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);

  const output = await readBack(target);
  assert.deepEqual(parseRecord(output, sleeper.pid!), { record: { files: FILES } });
  assert.match(
    (parseRecord(output, sleeper.pid! + 1) as { missing: string }).missing,
    new RegExp(`the record is of master ${sleeper.pid}, not of the running one`),
  );
});

test('a record whose pid now belongs to another process, a missing record, and a foreign file are no record', async () => {
  const target = join(root, 'two', 'app');
  await mkdir(target, { recursive: true });
  assert.match((parseRecord(await readBack(target), 1) as { missing: string }).missing, /there is no record on the host/);

  // The same pid, another start time: written for a process, read when another holds its pid.
  const gone = spawn('true');
  await new Promise((resolve) => gone.once('exit', resolve));
  const result = await localShell().run(recordWriteCommand(target, gone.pid!, FILES));
  assert.equal(result.code, 4, 'a pid with no /proc entry is not recorded');
  assert.match(result.stderr, /no \/proc entry/);
  const lines: string[] = [];
  await recordLoaded(hostRun(target, lines), gone.pid!, { fileHashes: FILES });
  assert.match(lines.join('\n'), /warning: .*was not written .*exit 4.*falls back to comparing file times/);

  await localShell().run(recordWriteCommand(target, sleeper.pid!, FILES));
  const forged = (await readBack(target)).replace(/(@@graceful-reload-record-now@@ )\d+/, '$1123');
  assert.match((parseRecord(forged, sleeper.pid!) as { missing: string }).missing, /belonged to another process/);
  assert.match((parseRecord('@@graceful-reload-record@@\n{"hello":1}\n', 5) as { missing: string }).missing, /not one of graceful-reload's/);
});

test('more files than one command can carry: a warning, no record, no command', async () => {
  const many = Object.fromEntries(Array.from({ length: 2000 }, (_, index) => [`/srv/app/vendor/package/src/File${index}.php`, 'c'.repeat(64)]));
  const lines: string[] = [];
  const run = hostRun(join(root, 'three', 'app'), lines);
  const sent: string[] = [];
  await recordLoaded({ ...run, shell: { ...run.shell, run: async (command) => (sent.push(command), { stdout: '', stderr: '', code: 0 }) } }, sleeper.pid!, {
    fileHashes: many,
  });
  assert.deepEqual(sent, []);
  assert.match(lines.join('\n'), /warning: .*2000 files are more than one command can carry/);
});
