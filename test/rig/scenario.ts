import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostReport } from '../../src/engine/report.js';
import { removeRunnerTemp, runAction, type ActionRun } from './action-runner.js';
import { TARGET, type Rig, type TestHost } from './rig.js';

/** The inputs of a one-host deploy to a rig host, fast settings for tests. */
export function inputsFor(rig: Rig, host: TestHost, source: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    hosts: `root@127.0.0.1:${host.port}`,
    'private-key': rig.clientKey,
    'known-hosts': host.hostKeyLine,
    source,
    target: TARGET,
    'ignore-workers': 'gateway',
    settle: '1s',
    timeout: '60s',
    'poll-interval': '100ms',
    ...extra,
  };
}

export interface Deploy {
  readonly run: ActionRun;
  readonly report: HostReport;
}

export interface DeployAttempt {
  readonly run: ActionRun;
  /** Empty when the action refused its inputs before any host. */
  readonly reports: readonly HostReport[];
}

/**
 * Runs the action against one host; `when` hooks fire once each when the
 * action's output first matches, for faults injected mid-rollout.
 */
export async function deploy(
  rig: Rig,
  host: TestHost,
  source: string,
  extra: Record<string, string> = {},
  when: readonly { match: RegExp; then: () => Promise<unknown> }[] = [],
): Promise<Deploy> {
  const { run, reports } = await attemptDeploy(rig, host, source, extra, when);
  if (reports.length !== 1) throw new Error(`expected one host report, got ${reports.length}; log:\n${run.log}`);
  return { run, report: reports[0]! };
}

/** Like deploy, but the action may refuse before reaching the host. */
export async function attemptDeploy(
  rig: Rig,
  host: TestHost,
  source: string,
  extra: Record<string, string> = {},
  when: readonly { match: RegExp; then: () => Promise<unknown> }[] = [],
): Promise<DeployAttempt> {
  let seen = '';
  const pending = [...when];
  const fired: Promise<unknown>[] = [];
  const run = await runAction(inputsFor(rig, host, source, extra), {
    echo: (text) => {
      seen += text;
      for (const hook of [...pending]) {
        if (hook.match.test(seen)) {
          pending.splice(pending.indexOf(hook), 1);
          fired.push(hook.then());
        }
      }
    },
  });
  await Promise.all(fired);
  await removeRunnerTemp(run);
  return { run, reports: JSON.parse(run.outputs['report'] ?? '[]') as HostReport[] };
}

/** A source whose web workers die in onWorkerStart: a fatal error in the new handler. */
export async function makeCrashingSource(rig: Rig): Promise<string> {
  const source = await rig.makeSource('v2-broken');
  await writeFile(join(source, 'src/handler.php'), `<?php\nthrow new Error('boom: the new handler cannot start');\n`);
  return source;
}

/**
 * An idle HTTP keep-alive client: one request, then the connection stays
 * open. It pins the worker that accepted it during a graceful reload.
 */
export async function keepAliveClient(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    });
    socket.once('data', () => resolve());
  });
  socket.on('error', () => undefined);
  return socket;
}

/** Host-side php wrapper: `status` misbehaves, every other call is real php. */
export async function installPhpWrapper(host: TestHost, name: string, statusBehaviour: string): Promise<string> {
  await host.shell(
    `mkdir -p /srv/bin && cat > /srv/bin/${name} <<'EOF'\n#!/bin/sh\nif [ "$2" = status ]; then ${statusBehaviour}; fi\nexec php "$@"\nEOF\nchmod +x /srv/bin/${name}`,
  );
  return `/srv/bin/${name}`;
}
