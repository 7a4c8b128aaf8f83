/** The remote PHP programs are imported as text: esbuild's text loader in the bundle, scripts/php-text-hooks.mjs under Node. */
declare module '*.php' {
  const source: string;
  export default source;
}
