import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.rewrite-rl/', '.tools/', '.cache/', 'schemas/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflows run in Temporal's deterministic sandbox: no Node built-ins, no I/O, no engine.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'worker_threads'],
              message: 'Workflows do no I/O.',
            },
            { group: ['../engine/*', '../engine', 'onnxruntime-node'], message: 'Workflows never touch tensors.' },
            {
              group: ['../activities/*', '../activities'],
              importNamePattern: '^(?!type)',
              allowTypeImports: true,
              message: 'Workflows import only types of activities.',
            },
          ],
        },
      ],
    },
  },
);
