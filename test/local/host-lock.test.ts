import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteCommandTimeout, RemoteConnectionLost, type RemoteShell } from '../../src/engine/ports.js';
import { StepError } from '../../src/engine/step-error.js';
import { acquireLock, describeHolder, lockDirectory, NoTargetForLock, parseAttempt, stateDirectory, type LockOwner } from '../../src/rollout/host-lock.js';
import { localHostRun, localShell, tempRootFor } from '../unit/local-host.js';

/**
 * The lock's commands are plain sh + coreutils: they run here for real, with
 * `sh -c` on a temp dir standing in for SSH, as the login shell on a host
 * would run them. The wait loop's timing runs against a fake shell and clock.
 */

const hostRun = localHostRun;

const first: LockOwner = { runUrl: 'https://github.com/acme/shop/actions/runs/111', job: 'deploy', startedAt: '2025-01-02T03:04:05Z' };
const second: LockOwner = { runUrl: 'https://github.com/acme/shop/actions/runs/222', job: 'deploy (web)', startedAt: '2025-01-02T03:05:00Z' };

const temp = tempRootFor('gr-host-lock-');
/** A fresh target dir (with an awkward name when asked) under the temp root. */
async function freshTarget(name = 'app'): Promise<string> {
  const parent = join(temp.nextCase());
  const target = join(parent, name);
  await mkdir(target, { recursive: true });
  await writeFile(join(target, 'start.php'), '<?php\n');
  return target;
}

/** Backdates the lock directory and its owner's heartbeat, as if it had been taken `seconds` ago by a run that died then. */
async function backdate(target: string, seconds: number): Promise<void> {
  const when = Date.now() / 1000 - seconds;
  await utimes(join(lockDirectory(target), 'owner.json'), when, when).catch(() => undefined);
  await utimes(lockDirectory(target), when, when);
}

async function ownerFile(target: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(join(lockDirectory(target), 'owner.json'), 'utf8')) as Record<string, string>;
}

test('the state directory lies beside the target, never inside it', () => {
  assert.equal(stateDirectory('/srv/app'), '/srv/.app.graceful-reload');
  assert.equal(stateDirectory('/srv/app//'), '/srv/.app.graceful-reload');
  assert.equal(stateDirectory('/app'), '/.app.graceful-reload');
  assert.equal(stateDirectory("/srv/my app's"), "/srv/.my app's.graceful-reload");
  assert.equal(lockDirectory('/srv/app'), '/srv/.app.graceful-reload/lock');
  assert.throws(() => stateDirectory('srv/app'), /not an absolute path/);
  assert.throws(() => stateDirectory('/'), /not an absolute path/);
});

test('a lock is taken atomically, records its owner and the host time, and its release removes it', async () => {
  const target = await freshTarget();
  const lines: string[] = [];
  const commands: string[] = [];
  const run = hostRun(target, localShell(commands), lines);
  const lock = await acquireLock(run, first, { timeoutMs: 0, force: false });
  assert.equal(lock.path, join(temp.currentCase(), '.app.graceful-reload', 'lock'));
  assert.deepEqual(lock.owner, first);
  assert.equal(commands.length, 1, 'one command per attempt');
  const owner = await ownerFile(target);
  assert.equal(owner['runUrl'], first.runUrl);
  assert.equal(owner['job'], first.job);
  assert.equal(owner['startedAt'], first.startedAt);
  assert.match(owner['createdAt']!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(owner['createdAt']!) - Date.now()) < 60_000, 'createdAt is the host clock, now');
  assert.ok(!existsSync(join(target, '.app.graceful-reload')), 'nothing inside the target');
  await lock.release();
  assert.equal(existsSync(lockDirectory(target)), false);
  assert.ok(existsSync(stateDirectory(target)), 'the state directory stays (the snapshots live there)');
  await lock.release();
  assert.equal(commands.length, 2, 'a second release sends nothing');
  assert.deepEqual(
    lines.filter((line) => line.startsWith('warning')),
    [],
  );
  // Free again: the next run takes it at once.
  const again = await acquireLock(run, second, { timeoutMs: 0, force: false });
  await again.release();
});

test('a lock whose connection was lost is released over a new one', async () => {
  const target = await freshTarget();
  const lines: string[] = [];
  const fresh: string[] = [];
  let closed = 0;
  const live = localShell();
  let lost = false;
  // The rollout's connection: it takes the lock, then drops (rsync's transfer rode on it).
  const dropping: RemoteShell = {
    run: (command, options) => (lost ? Promise.reject(new RemoteConnectionLost(command, 'read ECONNRESET')) : live.run(command, options)),
    close: async () => undefined,
  };
  const reconnect = localShell(fresh);
  const run = hostRun(target, dropping, lines);
  const lock = await acquireLock({ ...run, io: { ...run.io, openShell: async () => ({ ...reconnect, close: async () => void (closed += 1) }) } }, first, {
    timeoutMs: 0,
    force: false,
  });
  lost = true;
  await lock.release();
  assert.equal(existsSync(lockDirectory(target)), false, 'released');
  assert.equal(fresh.length, 1, 'the release ran on the new connection');
  assert.equal(closed, 1, 'and closed it');
  assert.ok(lines.includes('web1: the connection was lost (read ECONNRESET); connecting again to release the lock'), lines.join('\n'));
});

test('a second rollout waits for the lock, then fails naming the owner and the age, and changed nothing', async () => {
  const target = await freshTarget();
  const held = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 0, force: false });
  await backdate(target, 125);
  const lines: string[] = [];
  const commands: string[] = [];
  const started = Date.now();
  const error = await acquireLock(hostRun(target, localShell(commands), lines), second, { timeoutMs: 800, force: false, pollMs: 100 }).then(
    () => assert.fail('the second rollout took a held lock'),
    (caught: unknown) => caught,
  );
  const waited = Date.now() - started;
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'lock');
  assert.equal(error.filesMayHaveChanged, false);
  assert.ok(waited >= 800, `waited ${waited} ms`);
  assert.ok(commands.length >= 2, `polled ${commands.length} times`);
  assert.match(error.message, /run https:\/\/github\.com\/acme\/shop\/actions\/runs\/111 \(job deploy, started 2025-01-02T03:04:05Z\)/);
  assert.match(error.message, /taken 2 min [5-9] s ago/);
  assert.match(error.message, /Nothing on the host was changed/);
  assert.match(error.message, /`force-unlock: true` clears/);
  assert.equal(lines.filter((line) => /is held by run .*runs\/111.*waiting up to/.test(line)).length, 1, 'the wait is announced once');
  // The holder's lock is untouched.
  assert.equal((await ownerFile(target))['runUrl'], first.runUrl);
  await held.release();
  assert.equal(existsSync(lockDirectory(target)), false);
});

test('a waiting rollout gets the lock as soon as the holder releases it', async () => {
  const target = await freshTarget();
  const held = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 0, force: false });
  const waiting = acquireLock(hostRun(target, localShell(), []), second, { timeoutMs: 10_000, force: false, pollMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await held.release();
  const lock = await waiting;
  assert.equal((await ownerFile(target))['runUrl'], second.runUrl);
  await lock.release();
});

test('force-unlock removes a held lock, warning with its owner and age, and takes it; the old holder then leaves it alone', async () => {
  const target = await freshTarget();
  const oldLines: string[] = [];
  const stale = await acquireLock(hostRun(target, localShell(), oldLines), first, { timeoutMs: 0, force: false });
  await backdate(target, 3 * 3600 + 60);
  const lines: string[] = [];
  const lock = await acquireLock(hostRun(target, localShell(), lines), second, { timeoutMs: 0, force: true });
  const warnings = lines.filter((line) => line.startsWith('warning'));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /force-unlock: removed the lock .* held by run https:\/\/github\.com\/acme\/shop\/actions\/runs\/111 \(job deploy, started 2025-01-02T03:04:05Z\), taken 3 h 1 min ago, last heartbeat 3 h 1 min ago, and took it/,
  );
  assert.equal((await ownerFile(target))['runUrl'], second.runUrl);
  // The crashed-but-alive first run releasing late must not remove the new owner's lock.
  await stale.release();
  assert.ok(existsSync(lockDirectory(target)), 'the force-taken lock stays');
  assert.match(
    oldLines.find((line) => line.startsWith('warning'))!,
    /no longer this run's .*runs\/222 \(job deploy \(web\)\) and is left in place/,
  );
  await lock.release();
  assert.equal(existsSync(lockDirectory(target)), false);
});

test('a free lock taken with force-unlock warns about nothing', async () => {
  const target = await freshTarget();
  const lines: string[] = [];
  const lock = await acquireLock(hostRun(target, localShell(), lines), first, { timeoutMs: 0, force: true });
  assert.deepEqual(
    lines.filter((line) => line.startsWith('warning')),
    [],
  );
  await lock.release();
});

test('a lock a crashed run left without an owner file is reported as owner unknown, with its age; force-unlock clears it', async () => {
  const target = await freshTarget();
  await mkdir(lockDirectory(target), { recursive: true });
  await backdate(target, 600);
  const error = await acquireLock(hostRun(target, localShell(), []), second, { timeoutMs: 0, force: false }).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'lock');
  assert.match(
    error.message,
    /an unknown owner \(the lock has no owner file \(a run that died between taking the lock and writing its owner\?\)\), taken 10 min [0-4] s ago/,
  );
  assert.match(error.message, /force-unlock: true/);
  const lines: string[] = [];
  const lock = await acquireLock(hostRun(target, localShell(), lines), second, { timeoutMs: 0, force: true });
  assert.match(
    lines.find((line) => line.startsWith('warning'))!,
    /held by an unknown owner .*taken 10 min [0-4] s ago/,
  );
  await lock.release();
});

test('an owner file that is not an owner record is shown, one line and bounded', async () => {
  const target = await freshTarget();
  await mkdir(lockDirectory(target), { recursive: true });
  await writeFile(join(lockDirectory(target), 'owner.json'), 'garbage\n::error::injected\n');
  const error = await acquireLock(hostRun(target, localShell(), []), second, { timeoutMs: 0, force: false }).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.match(error.message, /an unknown owner \(its owner file is not an owner record: "garbage ::error::injected"\)/);
  assert.doesNotMatch(error.message, /\n/);
});

test('of several rollouts racing for a free lock, exactly one takes it', async () => {
  const target = await freshTarget();
  const owners = Array.from({ length: 6 }, (_, index) => ({ ...first, job: `job-${index}` }));
  const outcomes = await Promise.allSettled(owners.map((owner) => acquireLock(hostRun(target, localShell(), []), owner, { timeoutMs: 0, force: false })));
  const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
  assert.equal(won.length, 1);
  const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value;
  assert.equal((await ownerFile(target))['job'], winner.owner.job);
  for (const outcome of outcomes) if (outcome.status === 'rejected') assert.equal((outcome.reason as StepError).step, 'lock');
  await winner.release();
});

test('a target path with spaces, quotes and shell characters is locked beside itself', async () => {
  const target = await freshTarget(`my app 'v2' "x" $(touch pwned) ;`);
  const commands: string[] = [];
  const lock = await acquireLock(hostRun(target, localShell(commands), []), { ...first, job: `job 'quoted' $(id)` }, { timeoutMs: 0, force: false });
  assert.ok(existsSync(join(temp.currentCase(), `.my app 'v2' "x" $(touch pwned) ;.graceful-reload`, 'lock', 'owner.json')));
  assert.equal((await ownerFile(target))['job'], `job 'quoted' $(id)`);
  const error = await acquireLock(hostRun(target, localShell(), []), second, { timeoutMs: 0, force: false }).catch((caught: unknown) => caught);
  assert.match((error as Error).message, /job job 'quoted' \$\(id\)/);
  await lock.release();
  assert.equal(existsSync(lockDirectory(target)), false);
  assert.equal(existsSync('pwned'), false);
  assert.equal(existsSync(join(temp.currentCase(), 'pwned')), false);
});

test('a state directory that cannot be created fails the lock step, naming it, with nothing changed', async () => {
  const target = await freshTarget();
  // A file where the state directory belongs.
  await writeFile(stateDirectory(target), 'not a directory');
  const error = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 5000, force: false }).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'lock');
  assert.equal(error.filesMayHaveChanged, false);
  assert.ok(error.message.includes(`cannot create the state directory ${stateDirectory(target)}`), error.message);
  assert.match(error.message, /File exists/);
  assert.match(error.message, /no file of the target was changed/);
});

test('the wait polls every pollMs until lockTimeout, on the run clock', async () => {
  let clock = 0;
  const sleeps: number[] = [];
  const commands: string[] = [];
  const held = '@@graceful-reload-lock@@ held 1000 900\n{"runUrl":"u","job":"j","startedAt":"s"}\n';
  const shell: RemoteShell = {
    run: async (command) => {
      commands.push(command);
      return { stdout: held, stderr: '', code: 0 };
    },
    close: async () => undefined,
  };
  const run = hostRun('/srv/app', shell, [], () => clock);
  const error = await acquireLock(run, first, {
    timeoutMs: 2500,
    force: false,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  }).catch((caught: unknown) => caught);
  assert.deepEqual(sleeps, [1000, 1000, 500]);
  assert.equal(commands.length, 4);
  assert.match((error as Error).message, /run u \(job j, started s\), taken 1 min 40 s ago; waited 2\.5 s/);
});

test('a command that fails or times out while taking the lock is a lock failure; a failing release only warns', async () => {
  const failing: RemoteShell = { run: async () => Promise.reject(new RemoteCommandTimeout('sh -c ...', 5000)), close: async () => undefined };
  const error = await acquireLock(hostRun('/srv/app', failing, []), first, { timeoutMs: 0, force: false }).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'lock');
  assert.match(error.message, /cannot take the lock \/srv\/\.app\.graceful-reload\/lock: a remote command gave no answer within 5 s/);

  let calls = 0;
  const flaky: RemoteShell = {
    run: async () => (calls++ === 0 ? { stdout: '@@graceful-reload-lock@@ acquired\n', stderr: '', code: 0 } : Promise.reject(new Error('connection reset'))),
    close: async () => undefined,
  };
  const lines: string[] = [];
  const lock = await acquireLock(hostRun('/srv/app', flaky, lines), first, { timeoutMs: 0, force: false });
  await lock.release();
  await lock.release();
  const warnings = lines.filter((line) => line.startsWith('warning'));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /could not release the lock \(connection reset\); the lock \/srv\/\.app\.graceful-reload\/lock is left in place.*force-unlock: true/,
  );
});

test('parsing an attempt and describing a holder', () => {
  assert.deepEqual(parseAttempt('@@graceful-reload-lock@@ acquired\n'), { kind: 'acquired' });
  assert.deepEqual(parseAttempt('@@graceful-reload-lock@@ held 100 40\n\n'), {
    kind: 'held',
    holder: { ownerProblem: 'the lock has no owner file (a run that died between taking the lock and writing its owner?)', ageSeconds: 60 },
  });
  const forced = parseAttempt(
    '@@graceful-reload-lock@@ held 100 \n{"runUrl":"u","job":"j","startedAt":"s","token":"t","createdAt":"c"}\n@@graceful-reload-lock@@ forced\n',
  );
  assert.deepEqual(forced, { kind: 'forced', previous: { owner: { runUrl: 'u', job: 'j', startedAt: 's', createdAt: 'c' } } });
  assert.equal(parseAttempt('something else'), undefined);
  assert.equal(
    describeHolder({ owner: { runUrl: 'u', job: 'j', startedAt: 's' } }),
    'run u (job j, started s), taken at an unknown time (the host could not give its age)',
  );
});

test('force-unlock leaves a lock whose owner is alive (a recent heartbeat), naming its age and heartbeat, and changes nothing', async () => {
  const target = await freshTarget();
  const live = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 0, force: false, heartbeat: false });
  // Taken minutes ago, but its owner renewed the heartbeat just now.
  await backdate(target, 300);
  assert.equal(await live.renew(), true);
  const lines: string[] = [];
  const error = await acquireLock(hostRun(target, localShell(), lines), second, { timeoutMs: 0, force: true, heartbeat: false }).then(
    () => assert.fail('force-unlock took a live lock'),
    (caught: StepError) => caught,
  );
  assert.equal(error.step, 'lock');
  assert.match(error.message, /held by|holds the lock/);
  assert.match(error.message, /runs\/111 \(job deploy, started 2025-01-02T03:04:05Z\), taken 5 min \d+ s ago, last heartbeat \d s ago/);
  assert.match(error.message, /force-unlock takes only a lock whose owner is gone \(no heartbeat for 30 s\), and this owner is alive/);
  assert.deepEqual(
    lines.filter((line) => line.startsWith('warning')),
    [],
  );
  assert.equal((await ownerFile(target))['runUrl'], first.runUrl, 'the live owner keeps its lock');
  assert.equal(live.lost.aborted, false);
  await live.release();
});

test('an owner whose lock was taken finds out at its next renewal: lost, with the new owner named, and it renews no more', async () => {
  const target = await freshTarget();
  const lines: string[] = [];
  const old = await acquireLock(hostRun(target, localShell(), lines), first, { timeoutMs: 0, force: false, heartbeat: false });
  assert.equal(await old.renew(), true);
  // Its heartbeat stopped long ago (a frozen runner), so another run's force-unlock may take it.
  await backdate(target, 120);
  const taker = await acquireLock(hostRun(target, localShell(), []), second, { timeoutMs: 0, force: true, heartbeat: false });
  assert.equal(await old.renew(), false);
  assert.equal(old.lost.aborted, true);
  assert.match(String(old.lost.reason), /^the lock .* was taken by run https:\/\/github\.com\/acme\/shop\/actions\/runs\/222 \(job deploy \(web\)\)$/);
  assert.ok(
    lines.some((line) => /^warning.*was taken by run .*runs\/222.*: this run stops touching the host$/.test(line)),
    lines.join('\n'),
  );
  assert.equal((await ownerFile(target))['runUrl'], second.runUrl, "the old owner's renewal did not touch the new lock");
  await taker.release();
  // Gone altogether: also lost.
  const alone = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 0, force: false, heartbeat: false });
  await rm(lockDirectory(target), { recursive: true });
  assert.equal(await alone.renew(), false);
  assert.match(String(alone.lost.reason), /is gone/);
});

test('a renewal moves the heartbeat to the host time now', async () => {
  const target = await freshTarget();
  const lock = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 0, force: false, heartbeat: false });
  await backdate(target, 600);
  assert.equal(await lock.renew(), true);
  const beat = (await stat(join(lockDirectory(target), 'owner.json'))).mtimeMs;
  assert.ok(Date.now() - beat < 60_000, `heartbeat ${new Date(beat).toISOString()}`);
  await lock.release();
});

test('a target that is missing, or holds no start file, gets no lock and no directory beside it', async () => {
  for (const make of [async () => join(temp.nextCase(), 'typo', 'app'), async () => join(await freshTarget(), 'vendor')]) {
    const target = await make();
    await mkdir(target.endsWith('vendor') ? target : join(temp.currentCase()), { recursive: true });
    const error = await acquireLock(hostRun(target, localShell(), []), first, { timeoutMs: 0, force: false, heartbeat: false }).then(
      () => assert.fail(`a lock was taken beside ${target}`),
      (caught: StepError) => caught,
    );
    assert.ok(error instanceof NoTargetForLock, error.message);
    assert.match(
      error.message,
      /is not a directory holding the start file .*\/start\.php, so no lock was made beside it; nothing was created or changed on the host/,
    );
    assert.equal(existsSync(stateDirectory(target)), false, `${stateDirectory(target)} was created`);
  }
});

test('a renewal that finds the lock gone after this run released it is no loss: no warning, nothing aborted', async () => {
  const target = await freshTarget();
  const lines: string[] = [];
  const lock = await acquireLock(hostRun(target, localShell(), lines), first, { timeoutMs: 0, force: false, heartbeat: false });
  await lock.release();
  await lock.renew();
  assert.equal(lock.lost.aborted, false);
  assert.deepEqual(
    lines.filter((line) => line.startsWith('warning')),
    [],
  );
});
