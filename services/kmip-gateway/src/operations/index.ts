// The operation table: one handler per KMIP operation, registered like routes.
import { Operation } from '@keywarden/kmip';
import { activate } from './activate';
import { addAttribute } from './add-attribute';
import { check } from './check';
import { Handler } from './context';
import { create } from './create';
import { deleteAttribute } from './delete-attribute';
import { destroy } from './destroy';
import { discoverVersions } from './discover-versions';
import { get } from './get';
import { getAttributeList } from './get-attribute-list';
import { getAttributes } from './get-attributes';
import { locate } from './locate';
import { modifyAttribute } from './modify-attribute';
import { queryHandler } from './query';
import { register } from './register';
import { revoke } from './revoke';

export * from './context';

export const HANDLERS = new Map<number, Handler>([
  [Operation.DiscoverVersions, discoverVersions],
  [Operation.Create, create],
  [Operation.Register, register],
  [Operation.Get, get],
  [Operation.Locate, locate],
  [Operation.Activate, activate],
  [Operation.Revoke, revoke],
  [Operation.Destroy, destroy],
  [Operation.Check, check],
  [Operation.GetAttributes, getAttributes],
  [Operation.GetAttributeList, getAttributeList],
  [Operation.AddAttribute, addAttribute],
  [Operation.ModifyAttribute, modifyAttribute],
  [Operation.DeleteAttribute, deleteAttribute],
]);
HANDLERS.set(Operation.Query, queryHandler(() => [...HANDLERS.keys()].sort((a, b) => a - b)));

/** Operations that need no call to the key service (cheap, but still need a registered certificate). */
export const LOCAL_OPERATIONS = new Set<number>([Operation.DiscoverVersions, Operation.Query]);
