/** Jest runs the TypeScript sources as native ESM (NestJS 12 and TypeORM 1 are ESM-only). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/test', '<rootDir>/sample-app/test'],
  testMatch: ['**/*.spec.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The sample app imports the package by name; under Jest that is the source, so tests can boot it in-process.
    '^@democrai/nest-auth$': '<rootDir>/src/index.ts',
    '^@democrai/nest-auth/(testing|swagger|transports)$': '<rootDir>/src/$1/index.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: true }],
  },
  testTimeout: 30000,
  // Native ESM under Jest keeps every test file's module graph alive in the process that ran it: past ~90 suites
  // one process ran out of heap (4 GB). A limit makes Jest run the files in a worker it replaces once over it.
  workerIdleMemoryLimit: '1536MB',
};
