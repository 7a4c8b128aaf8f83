import * as core from '@actions/core';
import { rm } from 'node:fs/promises';
import { secretDirectory } from './state.js';

/** The post step: main removes its key files itself, but a cancelled job never reaches that line. */
export async function cleanup(): Promise<void> {
  const directory = secretDirectory();
  if (directory === '') return;
  await rm(directory, { recursive: true, force: true });
  core.info('removed the temporary SSH key and known_hosts files');
}
