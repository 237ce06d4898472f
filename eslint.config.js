// ESLint flat config: typescript-eslint's recommended rules (syntax only, no
// type information, so it stays fast), then eslint-config-prettier to leave
// layout to Prettier.
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'dist-sample/', 'dist-bench/', 'dist-check/', 'coverage/', 'bench/profiles/', 'test/vectors/'] },
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a binding kept on purpose (a parameter an interface requires, a field split off by a rest pattern).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // Nest's own API hands handlers and controllers around as `Function` (ExecutionContext.getHandler()/getClass(),
      // Reflector, DiscoveryService): the route policy is keyed by exactly those values, so the code speaks the same type.
      '@typescript-eslint/no-unsafe-function-type': 'off',
    },
  },
  {
    // Tests read wire payloads (JSON bodies, socket messages) as supertest's res.body is typed: any.
    files: ['test/**', 'sample-app/test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
