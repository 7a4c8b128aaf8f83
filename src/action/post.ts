import * as core from '@actions/core';
import { access, rm } from 'node:fs/promises';
import { secretDirectory } from './state.js';

/** The post step: main removes its key files itself, but a cancelled job never reaches that line. */
export async function cleanup(): Promise<void> {
  const directory = secretDirectory();
  if (directory === '') return;
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
