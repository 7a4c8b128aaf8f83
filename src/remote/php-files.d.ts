/**
 * src/remote/: the PHP and shell programs that run on hosts, imported as
 * text and inlined into dist/ (this file declares them to TypeScript); they are
 * checked with php -l, sh -n and shellcheck. Imported by src/workerman/ and
 * src/rollout/; they import nothing.
 */

/** The remote PHP and shell programs are imported as text: esbuild's text loader in the bundle, scripts/php-text-hooks.mjs under Node. */
declare module '*.php' {
  const source: string;
  export default source;
}

declare module '*.sh' {
  const source: string;
  export default source;
}
