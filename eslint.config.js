// ESLint for the TypeScript sources, tests and scripts: typescript-eslint's
// recommended rules. Formatting is Prettier's (npm run lint runs both).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config({ ignores: ['dist/', 'node_modules/', 'examples/**/vendor/'] }, js.configs.recommended, ...tseslint.configs.recommended, {
  languageOptions: {
    globals: {
      process: 'readonly',
      console: 'readonly',
      Buffer: 'readonly',
      setTimeout: 'readonly',
      clearTimeout: 'readonly',
      setInterval: 'readonly',
      clearInterval: 'readonly',
      setImmediate: 'readonly',
      queueMicrotask: 'readonly',
      URL: 'readonly',
      AbortController: 'readonly',
      AbortSignal: 'readonly',
      globalThis: 'readonly',
      TextDecoder: 'readonly',
      TextEncoder: 'readonly',
      performance: 'readonly',
      fetch: 'readonly',
      structuredClone: 'readonly',
    },
  },
  rules: {
    // Host text is cleaned of control characters on purpose (a host must not drive the runner's terminal or log).
    'no-control-regex': 'off',
    // Workerman's process titles have two spaces (`master process  start_file=`): the patterns say so literally.
    'no-regex-spaces': 'off',
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
  },
});
