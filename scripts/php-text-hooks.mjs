// Lets Node (tests, the demo, the benchmark) import the remote PHP programs
// and shell programs under src/remote/ and action.yml (the CLI's options) as text, as the bundle
// does with esbuild's text loader.
import { readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:') && /\.(php|sh|yml)$/.test(url)) {
      const text = readFileSync(fileURLToPath(url), 'utf8');
      return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
    }
    return nextLoad(url, context);
  },
});
