import { Command } from 'commander';
import { ENUM_INFO } from '@keywarden/kmip';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { kv, table } from '../table';

export function enumLabel(enumName: string, value: number): string {
  return ENUM_INFO.get(enumName)?.values.find((v) => v.value === value)?.specName ?? String(value);
}

function attrText(a: { name: string; value?: Record<string, unknown> }): string {
  const v = a.value ?? {};
  const [kind, val] = Object.entries(v).find(([, x]) => x !== undefined) ?? ['', ''];
  if (kind === 'byteString' || kind === 'bigInteger') return `<${(val as Buffer).length} bytes>`;
  if (kind === 'structure') return '<structure>';
  return String(val);
}

/** The values of one custom text attribute of a key, comma-separated ('' when absent). */
function tag(k: adminV1.KeyInfo, name: string): string {
  return k.attributes.filter((a) => a.name === name).map((a) => attrText(a as never)).join(',');
}

export function register(program: Command, ctx: () => Ctx): void {
  const key = program.command('key').description('keys of a tenant (metadata only: key material never leaves through the CLI)');

  key.command('list <tenant>')
    .description("list keys with state and vCenter's tags (x-Name: the VM or host, x-Component, x-Identifier)")
    .option('--limit <n>', 'keys per page', '100')
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
        const r = await c.call<adminV1.ListKeysResponse>('listKeys', { tenantId, limit: Number(o.limit), pageToken, attributes });
        keys.push(...r.keys);
        pageToken = r.nextPageToken;
      } while (o.all && pageToken);
      c.out(table(['UID', 'STATE', 'VM/HOST (x-Name)', 'COMPONENT', 'IDENTIFIER', 'ALGORITHM', 'LENGTH', 'NAMES', 'CRK VERSION'],
        keys.map((k) => [k.uniqueIdentifier, enumLabel('State', k.state), tag(k, 'x-Name'), tag(k, 'x-Component'), tag(k, 'x-Identifier'),
          enumLabel('CryptographicAlgorithm', k.cryptographicAlgorithm), k.cryptographicLength, k.names.join(','), k.crkVersion])) +
        (pageToken && !o.all ? `\n(more: use --all)` : ''), keys);
    });

  key.command('show <tenant> <uid>').description('show one key and its attributes').action(async (tenantId: string, uid: string) => {
    const c = ctx();
    const k = await c.call<adminV1.KeyInfo>('getKey', { tenantId, uniqueIdentifier: uid });
    c.out(kv([
      ['uid', k.uniqueIdentifier], ['tenant', k.tenantId], ['object type', enumLabel('ObjectType', k.objectType)], ['state', enumLabel('State', k.state)],
      ['algorithm', enumLabel('CryptographicAlgorithm', k.cryptographicAlgorithm)], ['length', k.cryptographicLength],
      ['usage mask', k.cryptographicUsageMask], ['names', k.names.join(', ')], ['crk version', k.crkVersion], ['created by', k.createdBy],
      ...k.attributes.map((a): [string, string] => [`  ${a.name}${a.index ? `[${a.index}]` : ''}`, attrText(a as never)]),
    ]), k);
  });
}
