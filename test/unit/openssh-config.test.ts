import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sshConfigText } from '../../src/adapters/openssh-files.js';
import { parseKnownHosts } from '../../src/engine/known-hosts.js';

const pins = parseKnownHosts('[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl');
const options = { directory: '/tmp/graceful-reload-x', trust: { pins, ignoreHostKeys: false }, connectTimeoutMs: 20_000 };

test('pins are enforced for every host the config matches, the jump host included, and the jump host does not jump to itself', () => {
  const text = sshConfigText({ ...options, credentials: { privateKey: 'k' }, jumpHost: { label: 'b', host: 'bastion', port: 2200, username: 'ops' } });
  const [jump, all] = text.split('Host *');
  assert.match(jump!, /^Host graceful-reload-jump\n {2}HostName bastion\n {2}Port 2200\n {2}User ops\n {2}ProxyJump none\n$/);
  for (const line of ['ProxyJump graceful-reload-jump', 'StrictHostKeyChecking yes', 'UserKnownHostsFile "/tmp/graceful-reload-x/known_hosts"', 'IdentityFile "/tmp/graceful-reload-x/id"', 'IdentitiesOnly yes', 'IdentityAgent none', 'PasswordAuthentication no', 'ForwardAgent no', 'PermitLocalCommand no']) {
    assert.ok(all!.includes(`  ${line}\n`), line);
  }
});

test('credentials shape the config: password prompts only with a password, the agent only when there is one', () => {
  const withPassword = sshConfigText({ ...options, credentials: { password: 'p' } });
  assert.match(withPassword, /PasswordAuthentication yes/);
  assert.doesNotMatch(withPassword, /IdentityFile/);
  const withAgent = sshConfigText({ ...options, credentials: { privateKey: 'k', agentSocket: '/run/agent' } });
  assert.doesNotMatch(withAgent, /IdentityAgent none|IdentitiesOnly yes/);
});

test('insecure mode is spelled out, never implied', () => {
  const text = sshConfigText({ ...options, trust: { pins: [], ignoreHostKeys: true }, credentials: { privateKey: 'k' } });
  assert.match(text, /StrictHostKeyChecking no\n {2}UserKnownHostsFile \/dev\/null/);
});
