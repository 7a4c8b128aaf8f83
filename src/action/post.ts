import * as core from '@actions/core';
import { access, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { secretDirectory } from './state.js';

/** The post step: main removes its key files itself, but a cancelled job never reaches that line. */
export async function cleanup(): Promise<void> {
  const directory = secretDirectory();
  if (directory === '') return;
  // Saved state is only ever our own directory; anything else is not deleted.
  const parents = [process.env['RUNNER_TEMP'], tmpdir()].filter((path): path is string => !!path).map((path) => resolve(path));
  if (!basename(directory).startsWith('graceful-reload-') || !parents.includes(dirname(resolve(directory)))) {
    core.warning(`not removing ${directory}: it is not a graceful-reload temporary directory`);
    return;
  }
  const present = await access(directory).then(
    () => true,
    () => false,
  );
  if (!present) {
    core.debug('the temporary SSH files were already removed by the main step');
    return;
  }
  await rm(directory, { recursive: true, force: true });
  core.info('removed the temporary SSH key and config files the main step left behind');
}
