const path = require('path');

module.exports = {
  ...require('../../jest.preset.js')(__dirname),
  globalSetup: path.join(__dirname, 'test/softhsm-setup.ts'),
  globalTeardown: path.join(__dirname, 'test/softhsm-teardown.ts'),
};
