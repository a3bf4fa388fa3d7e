import { unary } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from './core';
import type { Notifications } from './notifications';
import { activate } from './operations/activate';
import { addAttribute } from './operations/add-attribute';
import { check } from './operations/check';
import { create } from './operations/create';
import { deleteAttribute } from './operations/delete-attribute';
import { destroy } from './operations/destroy';
import { get } from './operations/get';
import { getAttributeList } from './operations/get-attribute-list';
import { getAttributes } from './operations/get-attributes';
import { identify } from './operations/identify';
import { locate } from './operations/locate';
import { modifyAttribute } from './operations/modify-attribute';
import { register } from './operations/register';
import { revoke } from './operations/revoke';
import { watchAccessRevocations } from './operations/watch-access-revocations';

type Op<Req, Res> = (core: Core, c: OpContext, req: Req) => Promise<Res>;

/** The KeyLifecycle gRPC service: one handler per KMIP operation, each audited. */
export function lifecycleService(core: Core, notifications: Notifications): lifecycleV1.KeyLifecycleServer {
  const h = <Req, Res>(name: string, op: Op<Req, Res>) =>
    unary<Req, Res>(core.log, name, (req) => core.audited(name, (c) => op(core, c, req)));
  return {
    identify: h('Identify', identify),
    watchAccessRevocations: (call) => watchAccessRevocations(notifications, call),
    create: h('Create', create),
    register: h('Register', register),
    get: h('Get', get),
    locate: h('Locate', locate),
    activate: h('Activate', activate),
    revoke: h('Revoke', revoke),
    destroy: h('Destroy', destroy),
    check: h('Check', check),
    getAttributes: h('GetAttributes', getAttributes),
    getAttributeList: h('GetAttributeList', getAttributeList),
    addAttribute: h('AddAttribute', addAttribute),
    modifyAttribute: h('ModifyAttribute', modifyAttribute),
    deleteAttribute: h('DeleteAttribute', deleteAttribute),
  };
}
