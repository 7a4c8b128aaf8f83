import { parse } from 'yaml';
import actionYml from '../../action.yml';
import { boundedText } from '../engine/inputs/input-error.js';

/**
 * The command line's options. action.yml is their one source: every action
 * input is an option of the same name, with its description and default, so
 * the CLI and the action cannot drift apart.
 */

/** Inputs whose value is a secret: never taken from the command line (ps and shell history show it), only from a file or the environment. */
export const SECRET_INPUTS = ['private-key', 'passphrase', 'password'] as const;

/** Inputs that take several lines: a repeated option adds a line. */
export const LIST_INPUTS = ['hosts', 'known-hosts', 'exclude', 'protect', 'master-files', 'ignore-workers'] as const;

/** Inputs that name a local path: in a config file, relative to the file's directory. */
export const PATH_INPUTS = ['source', 'inventory'] as const;

export interface CliOption {
  /** The option's name, without the leading --. */
  readonly flag: string;
  /** The action input it sets; undefined for the CLI's own options. */
  readonly input?: string;
  /**
   * value: --flag <value>; list: repeatable, one line each; boolean: --flag
   * alone is true, --flag=false; file: --flag <path>, the input is the file's content.
   */
  readonly kind: 'value' | 'list' | 'boolean' | 'file';
  readonly description: string;
  readonly default?: string;
  /** What the value is, in --help: <value> unless said. */
  readonly placeholder?: string;
}

/** The environment variable a secret may come from: GRACEFUL_RELOAD_PRIVATE_KEY. */
export function secretVariable(input: string): string {
  return `GRACEFUL_RELOAD_${input.toUpperCase().replaceAll('-', '_')}`;
}

interface ActionInput {
  readonly name: string;
  readonly description: string;
  readonly default: string;
}

/** The inputs of action.yml, in its order. */
export function actionInputs(text: string = actionYml): ActionInput[] {
  const inputs = (parse(text) as { inputs: Record<string, { description: string; default?: unknown }> }).inputs;
  return Object.entries(inputs).map(([name, input]) => ({ name, description: input.description.trim(), default: String(input.default ?? '') }));
}

const CLI_OWN: readonly CliOption[] = [
  {
    flag: 'config',
    kind: 'value',
    placeholder: '<file>',
    description:
      'A YAML file of settings: a mapping of option names (as above) to values; a list is one line per item. Relative paths in it (source, inventory, the -file options) are relative to the file. Options on the command line win over it.',
  },
  {
    flag: 'known-hosts-file',
    input: 'known-hosts',
    kind: 'file',
    description: 'A file of known_hosts lines to pin, added to known-hosts (e.g. the output of ssh-keyscan, checked).',
  },
  {
    flag: 'report-file',
    kind: 'value',
    placeholder: '<file>',
    description: "Writes the report (the action's report output: JSON, one entry per host) to this file.",
  },
  { flag: 'plain', kind: 'boolean', description: 'Plain log lines even on a terminal, instead of the live display.' },
  { flag: 'verbose', kind: 'boolean', description: 'Also print the debug lines (every remote command and how it ended).' },
  { flag: 'help', kind: 'boolean', description: 'Prints this help and exits.' },
  { flag: 'version', kind: 'boolean', description: 'Prints the version and exits.' },
];

/** Every option: the action's inputs (a secret as --<name>-file), then the CLI's own. */
export function cliOptions(text: string = actionYml): CliOption[] {
  const fromAction = actionInputs(text).map((input): CliOption => {
    if ((SECRET_INPUTS as readonly string[]).includes(input.name)) {
      return {
        flag: `${input.name}-file`,
        input: input.name,
        kind: 'file',
        description: `A file holding the ${input.name} (or set ${secretVariable(input.name)}). ${input.description}`,
      };
    }
    const kind =
      (LIST_INPUTS as readonly string[]).includes(input.name) ? 'list'
      : input.default === 'true' || input.default === 'false' ? 'boolean'
      : 'value';
    return { flag: input.name, input: input.name, kind, description: input.description, ...(input.default !== '' ? { default: input.default } : {}) };
  });
  return [...fromAction, ...CLI_OWN];
}

/** A command line or config file the CLI cannot use; the message names the option. */
export class UsageError extends Error {
  constructor(message: string) {
    super(boundedText(message));
    this.name = 'UsageError';
  }
}

/** The option nearest to a mistyped name, for "did you mean". */
function nearest(name: string, options: readonly CliOption[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length]!;
  };
  const [best] = options.map((option) => ({ flag: option.flag, d: distance(name, option.flag) })).sort((x, y) => x.d - y.d);
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.flag : undefined;
}

/** The error for an option that does not exist (`file`: a config file's key), with the likely one, and the way to a secret. */
export function unknownOption(name: string, options: readonly CliOption[], file?: string): UsageError {
  if ((SECRET_INPUTS as readonly string[]).includes(name)) {
    const how = `give ${file ? `${name}-file: <file>` : `--${name}-file <file>`}, or set ${secretVariable(name)}`;
    return new UsageError(
      file ?
        `${file}: ${name}: a secret is never written in a config file; ${how}`
      : `--${name}: a secret is never taken on the command line (ps and the shell history would show it); ${how}`,
    );
  }
  const guess = nearest(name, options);
  const shown = (flag: string) => (file ? flag : `--${flag}`);
  return new UsageError(`${file ? `${file}: unknown key` : 'unknown option'} ${shown(name)}${guess ? ` (did you mean ${shown(guess)}?)` : ''}`);
}

/** Values by option name, each as often as given. */
export type GivenOptions = Map<string, string[]>;

/** Adds a value, refusing a second one for an option that takes one. */
export function addValue(given: GivenOptions, option: CliOption, value: string, shown: string): void {
  const values = given.get(option.flag) ?? [];
  if (values.length > 0 && option.kind !== 'list' && option.kind !== 'file') throw new UsageError(`${shown} is given twice; it takes one value`);
  if (option.kind === 'boolean' && value !== 'true' && value !== 'false') throw new UsageError(`${shown}: "${value}" is not true or false`);
  // In place: a copy per value made a list of 50,000 lines quadratic.
  values.push(value);
  given.set(option.flag, values);
}

/** --name value, --name=value, and --flag alone for a boolean; no positional arguments. */
export function parseArguments(argv: readonly string[], options: readonly CliOption[] = cliOptions()): GivenOptions {
  const byFlag = new Map(options.map((option) => [option.flag, option]));
  const given: GivenOptions = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument "${arg}": every setting is an option (--name value)`);
    }
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
    const option = byFlag.get(name);
    if (!option) throw unknownOption(name, options);
    let value = equals === -1 ? undefined : arg.slice(equals + 1);
    if (value === undefined && option.kind === 'boolean') value = 'true';
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value${option.kind === 'file' ? ' (a file)' : ''}`);
      value = next;
      i += 1;
    }
    addValue(given, option, value, `--${name}`);
  }
  return given;
}

/** Wraps text at `width` columns, each line indented. */
function wrap(text: string, indent: number, width = 80): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((text) => `${' '.repeat(indent)}${text}`).join('\n');
}

function usageOf(option: CliOption): string {
  const value =
    option.placeholder ?
      ` ${option.placeholder}`
    : { value: ' <value>', list: ' <value> (repeatable)', boolean: '[=true|false]', file: ' <file>' }[option.kind];
  return `  --${option.flag}${value}${option.default !== undefined ? `   (default: ${option.default})` : ''}`;
}

/** --help: every option with its description and default, then secrets and exit codes. */
export function helpText(options: readonly CliOption[] = cliOptions()): string {
  const section = (list: readonly CliOption[]) => list.map((option) => `${usageOf(option)}\n${wrap(option.description, 6)}`).join('\n');
  const own = new Set(CLI_OWN.map((option) => option.flag));
  return [
    'Usage: graceful-reload [--config <file>] [options]',
    '',
    wrap(
      "Deploys a directory over SSH with rsync, sends Workerman's rolling graceful reload and proves every worker was replaced: the graceful-reload GitHub Action, from a terminal or another CI. Every input of the action is an option of the same name.",
      0,
    ),
    '',
    'Options (the action inputs):',
    section(options.filter((option) => !own.has(option.flag))),
    '',
    'Options of the command line:',
    section(options.filter((option) => own.has(option.flag))),
    '',
    wrap(
      `Secrets are never options: private-key, passphrase and password come from --<name>-file <file> (or <name>-file in the config file), or from ${SECRET_INPUTS.map(secretVariable).join(', ')}; a running ssh-agent (SSH_AUTH_SOCK) works too.`,
      0,
    ),
    '',
    wrap(
      'Exit status: 0 every host done (or planned, with --dry-run); 1 a host failed, was rolled back, skipped or cancelled; 2 bad options or inputs (nothing was connected); 130 stopped by a second Ctrl-C.',
      0,
    ),
  ].join('\n');
}
