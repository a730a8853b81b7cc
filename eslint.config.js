// Lint for every TypeScript part: main, preload, services, serve, CLI, renderer, tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'release/**',
      'node_modules/**',
      'native/build/**',
      'native/test/**/out/**',
      'test-results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ['**/*.{ts,tsx,mjs,js,cjs}'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['build/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // The renderer reaches the services only through src/client; never Node or Electron.
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer is sandboxed: use src/client.' }],
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'child_process'],
              message: 'The renderer is sandboxed: use src/client.',
            },
            {
              group: ['**/electron/services/**', '**/electron/main/**', '**/electron/serve/**'],
              message: 'The renderer may import only electron/common (types).',
            },
          ],
        },
      ],
    },
  },
  {
    // Services run under plain Node (the VM host, `nestbox serve`, the CLI): never Electron.
    files: [
      'electron/services/**/*.ts',
      'electron/serve/**/*.ts',
      'electron/cli/**/*.ts',
      'electron/common/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'electron',
              message:
                'Services run without Electron; only electron/main and electron/preload import it.',
            },
          ],
        },
      ],
    },
  },
);
