/** action.yml is imported as text: esbuild's text loader in the bundle, scripts/php-text-hooks.mjs under Node. */
declare module '*.yml' {
  const text: string;
  export default text;
}
