import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/**/build/**', 'bin/**', 'tmp/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The codec core must stay pure: no orchestration, storage, model runtime or image I/O.
    files: ['src/codec/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: ['@temporalio/*', '@aws-sdk/*', 'onnxruntime-node', 'sharp', 'node:fs', 'node:fs/*', 'fs'],
      }],
    },
  },
);
