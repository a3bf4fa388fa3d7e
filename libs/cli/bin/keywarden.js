#!/usr/bin/env node
// The keywarden CLI (built code in ../dist; run `npm run build` first).
'use strict';
require('../dist/main.js');
