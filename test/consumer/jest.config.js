/**
 * `npm run test:consumer`: the consumer-app suites alone, with the tarball packed once for all of them (global setup).
 * The main config (jest.config.js at the root) finds these files too; there they skip unless AUTH_TEST_CONSUMER=1.
 */
import base from '../../jest.config.js';

export default {
  ...base,
  rootDir: '../..',
  roots: ['<rootDir>/test/consumer'],
  globalSetup: '<rootDir>/test/consumer/support/global-setup.js',
  globalTeardown: '<rootDir>/test/consumer/support/global-teardown.js',
  // Each file installs apps from the network and runs their compilers: two at once is plenty on a small machine.
  maxWorkers: 2,
  testTimeout: 600_000,
};
