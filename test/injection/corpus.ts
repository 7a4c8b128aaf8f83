/**
 * Injection payloads for every input and for file names in the deployed tree.
 * Each one that ran would create a canary file under CANARY_DIR (or, for the
 * relative forms, a file named CANARY_NAME in whatever directory it ran in).
 */
export const CANARY_DIR = '/tmp/gr-canary';
export const CANARY_NAME = 'gr-pwned';

const commands = [
  `touch ${CANARY_DIR}/${CANARY_NAME}`,
  `touch\${IFS}${CANARY_DIR}/${CANARY_NAME}`,
  `sh -c 'touch ${CANARY_DIR}/${CANARY_NAME}'`,
  `touch ${CANARY_NAME}`,
  `/usr/bin/env touch ${CANARY_DIR}/${CANARY_NAME}`,
];

const wrappers: ((command: string) => string)[] = [
  (c) => `;${c}`,
  (c) => `; ${c};`,
  (c) => `x;${c}`,
  (c) => `&&${c}`,
  (c) => `|| ${c}`,
  (c) => `| ${c}`,
  (c) => `& ${c} &`,
  (c) => `$(${c})`,
  (c) => `\`${c}\``,
  (c) => `'$(${c})'`,
  (c) => `"$(${c})"`,
  (c) => `';${c};'`,
  (c) => `";${c};"`,
  (c) => `\\';${c};\\'`,
  (c) => `\n${c}`,
  (c) => `a\n${c}\n`,
  (c) => `\r\n${c}`,
  (c) => `$((0))$(${c})`,
  (c) => `>(${c})`,
  (c) => `<(${c})`,
  (c) => `{${c.replaceAll(' ', ',')}}`,
  (c) => `\${x:-$(${c})}`,
  (c) => `%0a${c}`,
  (c) => `app$(${c}).php`,
  (c) => `/srv/app/$(${c})`,
  (c) => `-e ${c}`,
  (c) => `--rsh=${c}`,
  (c) => `-oProxyCommand=${c}`,
  (c) => `--filter=: ${c}`,
  (c) => `\u200b;${c}`,
  (c) => `\u202e;${c}`,
  (c) => `；${c}`,
  (c) => `＄(${c})`,
  (c) => `ǅ$(${c})ǅ`,
  (c) => `🚀$(${c})`,
  (c) => `${c}#`,
  (c) => `http://127.0.0.1:1/$(${c})`,
  (c) => `web1;${c}`,
  (c) => `root@web1 ${c}`,
  (c) => `5m;${c}`,
];

const fixed = [
  '*',
  '?',
  '[a-z]*',
  '**/*',
  '..',
  '../..',
  '../../etc/passwd',
  '/srv/app/../../etc',
  '/',
  '//',
  '-',
  '--',
  '-rf',
  '--delete-excluded',
  '--remove-source-files',
  '-p',
  "'",
  '"',
  '\\',
  '$HOME',
  '${PATH}',
  '~root',
  '!!',
  '%s%s%s%n',
  'a b',
  '\t',
  ' ',
  'Ω≈ç√∫',
  '\u0000null',
  'a\u0000;touch /tmp/gr-canary/gr-pwned',
];

export const PAYLOADS: readonly string[] = [...new Set([...wrappers.flatMap((wrap) => commands.map(wrap)), ...fixed])];

/** The payloads that can be file names (no slash, no NUL, not . or ..), for the deployed tree. */
export const FILE_NAME_PAYLOADS: readonly string[] = PAYLOADS.filter(
  (payload) => !payload.includes('/') && !payload.includes('\0') && payload !== '.' && payload !== '..' && Buffer.byteLength(payload) < 200,
);

/** Every input of action.yml, so a new input cannot escape the sweep. */
export const INPUT_NAMES = [
  'hosts',
  'username',
  'port',
  'private-key',
  'passphrase',
  'password',
  'known-hosts',
  'insecure-ignore-host-key',
  'jump-host',
  'source',
  'target',
  'exclude',
  'protect',
  'start-file',
  'php',
  'reload-mode',
  'status',
  'status-url',
  'revision',
  'log-file',
  'ignore-workers',
  'on-master-change',
  'master-files',
  'timeout',
  'settle',
  'poll-interval',
  'graceful-timeout',
  'on-graceful-timeout',
  'command-timeout',
  'connect-timeout',
] as const;
