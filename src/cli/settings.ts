import { readBoundedText, unreadable } from '../adapters/bounded-file.js';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { RawInputs } from '../engine/inputs/inputs.js';
import { addValue, cliOptions, PATH_INPUTS, SECRET_INPUTS, secretVariable, unknownOption, UsageError, type CliOption, type GivenOptions } from './options.js';

/** Settings from a config file: values by option name, and the directory its relative paths are relative to. */
export interface ConfigFile {
  readonly path: string;
  readonly directory: string;
  readonly given: GivenOptions;
}

/** Keys a config file may not hold: they only make sense on the command line. */
const COMMAND_LINE_ONLY = new Set(['config', 'help', 'version']);

/**
 * Reads a YAML config file: a mapping of option names to a scalar (string,
 * number, boolean) or a list of scalars (a list option's lines). Every
 * problem names the file and the key.
 */
export async function readConfigFile(path: string, options: readonly CliOption[] = cliOptions()): Promise<ConfigFile> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readBoundedText(file);
  } catch (error) {
    throw new UsageError(`--config: cannot read ${file} (${unreadable(error)})`);
  }
  return { path: file, directory: dirname(file), given: parseConfig(text, file, options) };
}

/** The options a config file's text sets; `file` names it in errors. */
export function parseConfig(text: string, file: string, options: readonly CliOption[] = cliOptions()): GivenOptions {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) throw new UsageError(`${file}: ${document.errors[0]!.message.split('\n')[0]}`);
  const given: GivenOptions = new Map();
  if (document.contents === null) return given;
  if (!isMap(document.contents)) throw new UsageError(`${file}: expected a mapping of option names to values (hosts: web1.example.com, target: /srv/app, ...)`);
  const byFlag = new Map(options.filter((option) => !COMMAND_LINE_ONLY.has(option.flag)).map((option) => [option.flag, option]));
  for (const pair of document.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const option = byFlag.get(key);
    if (!option) throw unknownOption(key, [...byFlag.values()], file);
    const shown = `${file}: ${key}`;
    const items = isSeq(pair.value) ? pair.value.items : [pair.value];
    if (isSeq(pair.value) && option.kind !== 'list') throw new UsageError(`${shown} takes one value, not a list`);
    for (const item of items) {
      if (!isScalar(item) || item.value === null || typeof item.value === 'object') throw new UsageError(`${shown}: expected a string, a number or true/false`);
      addValue(given, option, String(item.value), shown);
    }
  }
  return given;
}

/** A -file option's content, or an error naming the option and the file. */
async function fileContent(path: string, shown: string): Promise<string> {
  try {
    return await readBoundedText(path);
  } catch (error) {
    throw new UsageError(`${shown}: cannot read ${path} (${unreadable(error)})`);
  }
}

/**
 * The action inputs the command line, the config file and the environment
 * give, by input name: the command line wins over the file, a -file option
 * is read, and a secret nobody gave comes from its GRACEFUL_RELOAD_ variable.
 * Inputs given nowhere are left out: parseInputs applies action.yml's defaults.
 */
export async function resolveInputs(
  commandLine: GivenOptions,
  config: ConfigFile | undefined,
  environment: NodeJS.ProcessEnv,
  options: readonly CliOption[] = cliOptions(),
): Promise<Map<string, string>> {
  const inputs = new Map<string, string[]>();
  const add = (input: string, value: string) => {
    const values = inputs.get(input) ?? [];
    values.push(value);
    inputs.set(input, values);
  };
  for (const option of options) {
    if (option.input === undefined) continue;
    const fromLine = commandLine.get(option.flag);
    const values = fromLine ?? config?.given.get(option.flag);
    if (values === undefined) continue;
    const base = fromLine ? process.cwd() : config!.directory;
    const shown = fromLine ? `--${option.flag}` : `${config!.path}: ${option.flag}`;
    for (const value of values) {
      if (option.kind === 'file') add(option.input, await fileContent(resolve(base, value), shown));
      else if (!fromLine && (PATH_INPUTS as readonly string[]).includes(option.input) && value !== '') add(option.input, resolve(base, value));
      else add(option.input, value);
    }
  }
  for (const secret of SECRET_INPUTS) {
    const value = environment[secretVariable(secret)];
    if (!inputs.has(secret) && value !== undefined && value !== '') add(secret, value);
  }
  return new Map([...inputs].map(([input, values]) => [input, values.join('\n')]));
}

/** The inputs as parseInputs reads them: a missing input is the empty string, as on a runner. */
export function rawInputs(inputs: ReadonlyMap<string, string>): RawInputs {
  return (name) => inputs.get(name) ?? '';
}

/** The CLI's own options (not action inputs), from the command line or else the config file (where a report file is relative to it). */
export function ownOption(flag: string, commandLine: GivenOptions, config: ConfigFile | undefined): string | undefined {
  const fromLine = commandLine.get(flag)?.[0];
  if (fromLine !== undefined) return fromLine;
  const fromFile = config?.given.get(flag)?.[0];
  return fromFile !== undefined && flag === 'report-file' ? resolve(config!.directory, fromFile) : fromFile;
}
