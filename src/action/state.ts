import * as core from '@actions/core';

/**
 * Main and post run from the same bundle; saved state tells them apart, the
 * way actions/checkout does, and carries what the post step must clean up.
 */
const POST = 'isPost';
const SECRET_DIR = 'secretDirectory';

export const isPost = core.getState(POST) === 'true';

export function markMainStarted(): void {
  core.saveState(POST, 'true');
}

export function rememberSecretDirectory(path: string): void {
  core.saveState(SECRET_DIR, path);
}

export function secretDirectory(): string {
  return core.getState(SECRET_DIR);
}
