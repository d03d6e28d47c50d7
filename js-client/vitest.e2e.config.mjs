import { defineConfig } from 'vitest/config';

// Browser tests: a real `rotor serve` and headless Debian chromium. One file
// at a time: each starts its own server and browser, and the machine has
// two cores.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.mjs'],
    globalSetup: ['test/e2e/global-setup.mjs'],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
});
