// `npm test` runs every workspace's tests through this one config.
module.exports = {
  projects: [
    '<rootDir>/libs/kmip',
    '<rootDir>/libs/common',
    '<rootDir>/libs/cli',
    '<rootDir>/libs/stack',
    '<rootDir>/services/keyprotect-emulator',
    '<rootDir>/services/crk-wrapping',
    '<rootDir>/services/key-lifecycle',
    '<rootDir>/services/kmip-gateway',
    '<rootDir>/services/admin-console',
    '<rootDir>/test',
  ],
};
