export interface HostSpec {
  /** The text as the user wrote it, for messages. */
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const USERNAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

export function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new Error(`${what}: "${text}" is not a TCP port (1-65535)`);
  }
  return Number(text);
}

export function parseUsername(text: string, what: string): string {
  if (!USERNAME.test(text)) {
    throw new Error(`${what}: "${text}" is not a valid user name (letters, digits, _ . -, not starting with - or a digit)`);
  }
  return text;
}

/**
 * One entry of `hosts`: `[user@]host[:port]`, with IPv6 literals written as
 * `[::1]` or `[::1]:2222`.
 */
export function parseHostSpec(text: string, defaults: { username: string; port: number }): HostSpec {
  const label = text.trim();
  const expected = `expected [user@]host[:port], e.g. deploy@web1.example.com:2222`;
  let rest = label;
  let username = defaults.username;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    username = parseUsername(rest.slice(0, at), `hosts entry "${label}"`);
    rest = rest.slice(at + 1);
  }
  let host: string;
  let port = defaults.port;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    if (!IPV6.test(host) || !host.includes(':')) throw new Error(`hosts entry "${label}": "${host}" is not an IPv6 address; ${expected}`);
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], `hosts entry "${label}"`);
  } else {
    const colon = rest.indexOf(':');
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    if (colon >= 0) port = parsePort(rest.slice(colon + 1), `hosts entry "${label}"`);
    if (!HOSTNAME.test(host)) throw new Error(`hosts entry "${label}": "${host}" is not a host name or IPv4 address; ${expected}`);
  }
  return { label, host, port, username };
}

/** `hosts` is newline or comma separated; blank entries and # comments are skipped. */
export function parseHostList(text: string, defaults: { username: string; port: number }): HostSpec[] {
  const entries = text
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '');
  if (entries.length === 0) throw new Error('hosts: no host given; expected one [user@]host[:port] per line');
  const hosts = entries.map((entry) => parseHostSpec(entry, defaults));
  const seen = new Set<string>();
  for (const host of hosts) {
    const key = `${host.username}@${host.host}:${host.port}`;
    if (seen.has(key)) throw new Error(`hosts: "${host.label}" is listed twice`);
    seen.add(key);
  }
  return hosts;
}

/** How OpenSSH names a host in known_hosts: the bare name on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}
