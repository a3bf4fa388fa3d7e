// Shared jest settings for every workspace. Tests import workspace packages by
// name; map them to their TypeScript sources so a test never runs stale output.
const path = require('path');

module.exports = (dir) => ({
  displayName: path.relative(__dirname, dir) || 'root',
  rootDir: dir,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    // tsconfig.test.json sets isolatedModules, so ts-jest only transpiles;
    // type checking happens once, in `npm run typecheck`.
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.test.json') }],
  },
  moduleNameMapper: {
    '^@keywarden/(kmip|proto|common|cli|stack)$': path.join(__dirname, 'libs/$1/src'),
    '^@keywarden/(kmip-gateway|key-lifecycle|crk-wrapping|keyprotect-emulator)$': path.join(__dirname, 'services/$1/src'),
  },
});
