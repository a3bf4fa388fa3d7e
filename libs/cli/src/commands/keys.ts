import { Command } from 'commander';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { integerIn } from '../options';
import { kv, table } from '../table';
import { attributeText, keyView, REVOCATION_REASONS } from '../views';

export function register(program: Command, ctx: () => Ctx): void {
  const key = program.command('key').description('keys of a tenant (metadata only: key material never leaves through the CLI)');

  key.command('list <tenant>')
    .description("list keys with state and vCenter's tags (x-Name: the VM or host, x-Component, x-Identifier)")
    .option('--limit <n>', 'keys per page (1 to 1000)', integerIn(1, 1000), 100)
    .option('--all', 'follow every page')
    .option('--vm <name>', 'only the keys vCenter tagged with this VM or host name (x-Name)')
    .option('--tag <attr=value>', 'only keys whose custom attribute has this value, e.g. x-Identifier=564d...; repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (tenantId: string, o) => {
      const attributes: Record<string, string> = {};
      for (const t of o.tag as string[]) {
        const eq = t.indexOf('=');
        if (eq <= 0) throw new CliError(`--tag ${t}: expected <attribute>=<value>, e.g. x-Name=vm-01`, 2);
        attributes[t.slice(0, eq)] = t.slice(eq + 1);
      }
      if (o.vm !== undefined) attributes['x-Name'] = o.vm;
      const c = ctx();
      const keys: adminV1.KeyInfo[] = [];
      let pageToken = '';
      do {
        const r = await c.call<adminV1.ListKeysResponse>('listKeys', { tenantId, limit: o.limit as number, pageToken, attributes });
        keys.push(...r.keys);
        pageToken = r.nextPageToken;
      } while (o.all && pageToken);
      const views = keys.map(keyView);
      c.out(table(['UID', 'STATE', 'VM/HOST (x-Name)', 'COMPONENT', 'IDENTIFIER', 'ALGORITHM', 'LENGTH', 'NAMES', 'CRK VERSION'],
        views.map((k) => [k.uniqueIdentifier, k.state, k.tags.name, k.tags.component, k.tags.identifier,
          k.cryptographicAlgorithm, k.cryptographicLength, k.names.join(','), k.crkVersion])) +
        (pageToken && !o.all ? `\n(more: use --all)` : ''), views);
    });

  key.command('show <tenant> <uid>').description('show one key and its attributes (names, dates in RFC 3339)').action(async (tenantId: string, uid: string) => {
    const c = ctx();
    const k = keyView(await c.call<adminV1.KeyInfo>('getKey', { tenantId, uniqueIdentifier: uid }));
    c.out(showText(k), k);
  });

  key.command('revoke <tenant> <uid>')
    .description('revoke a key as KMIP Revoke does: key-compromise/ca-compromise make it Compromised, any other reason deactivates an Active key')
    .requiredOption('--reason <reason>', Object.keys(REVOCATION_REASONS).join(' | '))
    .option('--message <text>', 'revocation message (recorded with the key)')
    .requiredOption('--confirm <uid>', 'repeat the key\'s uid')
    .action(async (tenantId: string, uid: string, o) => {
      const code = REVOCATION_REASONS[o.reason];
      if (code === undefined) throw new CliError(`--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}`, 2);
      if (o.confirm !== uid) throw new CliError('--confirm must repeat the key\'s uid exactly', 2);
      const c = ctx();
      const k = keyView(await c.call<adminV1.KeyInfo>('revokeKey', {
        tenantId, uniqueIdentifier: uid, confirmUniqueIdentifier: o.confirm, revocationReasonCode: code, revocationMessage: o.message ?? '',
      }));
      c.out(`revoked ${uid}: now ${k.state}`, k);
    });

  key.command('destroy <tenant> <uid>')
    .description('destroy a key as KMIP Destroy does (revoke an Active key first): its wrapped key is deleted in the provider, its record kept')
    .requiredOption('--confirm <uid>', 'repeat the key\'s uid')
    .action(async (tenantId: string, uid: string, o) => {
      if (o.confirm !== uid) throw new CliError('--confirm must repeat the key\'s uid exactly', 2);
      const c = ctx();
      const k = keyView(await c.call<adminV1.KeyInfo>('destroyKey', { tenantId, uniqueIdentifier: uid, confirmUniqueIdentifier: o.confirm }));
      c.out(`destroyed ${uid}: now ${k.state}`, k);
    });
}

function showText(k: ReturnType<typeof keyView>): string {
  return kv([
    ['uid', k.uniqueIdentifier], ['tenant', k.tenantId], ['object type', k.objectType], ['state', k.state],
    ['algorithm', k.cryptographicAlgorithm], ['length', k.cryptographicLength], ['usage mask', k.cryptographicUsageMask.join(', ')],
    ['names', k.names.join(', ')], ['VM/host (x-Name)', k.tags.name], ['component', k.tags.component], ['identifier', k.tags.identifier],
    ['crk version', k.crkVersion], ['created by', k.createdBy],
    ...k.attributes.map((a): [string, string] => [`  ${a.name}${a.index ? `[${a.index}]` : ''}`, attributeText(a.value)]),
  ]);
}
