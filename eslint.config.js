import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'dist-agent/', 'node_modules/', 'data/', 'web/dist/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Plain JavaScript: the bin shim runs on Node; the key assistant's pages run in the browser.
  {
    files: ['bin/**/*.js', 'eslint.config.js', 'scripts/**/*.mjs', 'scripts/**/*.cjs'],
    languageOptions: { globals: globals.node },
  },
  // the packaged assistant's addon loader runs inside the CommonJS bundle (require is all a SEA has)
  { files: ['scripts/**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['src/agent/ui/**/*.js'], languageOptions: { globals: globals.browser } },
  // src/agent ships to holders' PCs (npm run package:agent): it may import src/pki, src/pkcs11 and
  // src/shared only (test/agent-imports.test.ts checks the whole graph, this the direct imports)
  {
    files: ['src/agent/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(ca|ra|sa|api|staff|kmc|payments|jobs|signer)/|^(\\.\\./)+runtime\\.js$',
              message: 'the key assistant may import src/pki, src/pkcs11 and src/shared only',
            },
          ],
        },
      ],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
    },
  },
);
