/** The remote PHP and shell programs are imported as text: esbuild's text loader in the bundle, scripts/php-text-hooks.mjs under Node. */
declare module '*.php' {
  const source: string;
  export default source;
}

declare module '*.sh' {
  const source: string;
  export default source;
}
