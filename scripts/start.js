#!/usr/bin/env node
'use strict';
console.log('keywarden: the one-command local stack is not yet available (see README "Status").');
