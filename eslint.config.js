import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// DESIGN.md's layout, lowest first: each folder may import only the folders before it. Data flows one
// way, so an upward import (an engine file reaching into activities, a worker into the CLI) fails lint.
const LAYERS = [
  ['schemas'],
  ['engine'],
  ['method'],
  ['world', 'training'],
  ['activities'],
  ['workflows'],
  ['workers'],
  ['temporal'],
];
// Inside the engine the same holds: the graph builder, then the ops (with their gradient rules), then
// autodiff, which differentiates graphs of those ops.
const ENGINE_LAYERS = [['engine/graph'], ['engine/ops'], ['engine/autodiff']];

function zonesOf(layers, message) {
  return layers.flatMap((folders, i) =>
    folders.map((target) => ({
      target: `./${target}`,
      from: layers
        .slice(i + 1)
        .flat()
        .map((f) => `./${f}`),
      message,
    })),
  );
}
const zones = [
  ...zonesOf(
    LAYERS,
    'DESIGN.md: a folder imports only the layers below it (schemas → engine → method → world/training → activities → workflows → workers → temporal).',
  ),
  ...zonesOf(ENGINE_LAYERS, 'engine: graph → ops → autodiff; a lower one never imports a higher one.'),
  // workflows are deterministic orchestration: no engine, no domain code, only types of activities (below)
  {
    target: './workflows',
    from: ['./engine', './method', './world', './training'],
    message: 'Workflows do no compute: they import schemas and the types of activities.',
  },
  // world and training are siblings: neither builds on the other
  { target: './world', from: ['./training'], message: 'world/ and training/ are siblings.' },
  { target: './training', from: ['./world'], message: 'world/ and training/ are siblings.' },
].filter((z) => z.from.length > 0);

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.rewrite-rl/', '.tools/', '.cache/', 'schemas/generated/'] },
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
    plugins: { 'import-x': importX },
    // imports name folders and extensionless .ts files, as tsx and the workflow bundler resolve them
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: { 'import-x/no-restricted-paths': ['error', { zones }] },
  },
  {
    // Workflows run in Temporal's deterministic sandbox: no Node built-ins, no I/O, no engine.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // exact specifiers: ../schemas/workflow and the other schemas modules stay allowed
          paths: [
            '../schemas',
            '../schemas/index',
            '../schemas/generated/validators.cjs',
            '../schemas/generated/checkers',
          ].map((name) => ({
            name,
            message:
              'Workflows import schemas from ../schemas/workflow: the workflow bundle carries only the workflow validators (the schemas marked "x-workflow": true).',
          })),
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'worker_threads'],
              message: 'Workflows do no I/O.',
            },
            { group: ['onnxruntime-node'], message: 'Workflows never touch tensors.' },
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
