import { useEffect, useState } from 'preact/hooks';
import { api, apiPath, Key, Role } from '../api';
import { Confirm, Message, When } from '../components';

const REASONS: Array<[string, string]> = [
  ['key-compromise', 'Key compromise (the key becomes Compromised)'],
  ['cessation-of-operation', 'Cessation of operation (an Active key becomes Deactivated)'],
  ['superseded', 'Superseded (an Active key becomes Deactivated)'],
  ['affiliation-changed', 'Affiliation changed (an Active key becomes Deactivated)'],
  ['privilege-withdrawn', 'Privilege withdrawn (an Active key becomes Deactivated)'],
  ['unspecified', 'Unspecified (an Active key becomes Deactivated)'],
];

interface Search { vm: string; identifier: string; component: string }

type Pending = { kind: 'revoke' | 'destroy'; key: Key } | undefined;

export function Keys({ tenant, role }: { tenant: string; role: Role }) {
  const [search, setSearch] = useState<Search>({ vm: '', identifier: '', component: '' });
  const [applied, setApplied] = useState<Search>(search);
  const [filter, setFilter] = useState('');
  const [keys, setKeys] = useState<Key[]>([]);
  const [next, setNext] = useState('');
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [pending, setPending] = useState<Pending>();
  const [reason, setReason] = useState(REASONS[0][0]);
  const [message, setMessage] = useState('');

  const query = (s: Search, page: string) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(s)) if (v.trim()) p.set(k, v.trim());
    if (page) p.set('page', page);
    return `${apiPath`/api/tenants/${tenant}/keys`}?${p}`;
  };
  const load = (s: Search, page = '') => api<{ keys: Key[]; next: string }>('GET', query(s, page)).then((r) => {
    setKeys((cur) => (page ? [...cur, ...r.keys] : r.keys));
    setNext(r.next);
  }, (e: Error) => setError(e.message));
  useEffect(() => { void load(applied); }, [tenant, applied]);

  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? keys.filter((k) => [k.uniqueIdentifier, k.tags.name, k.tags.identifier, k.tags.component, k.state, ...k.names].some((x) => x.toLowerCase().includes(needle)))
    : keys;
  const set = (f: keyof Search) => (e: Event) => setSearch({ ...search, [f]: (e.target as HTMLInputElement).value });

  async function act(k: Key, kind: 'revoke' | 'destroy', typed: string) {
    const path = kind === 'revoke' ? apiPath`/api/tenants/${tenant}/keys/${k.uniqueIdentifier}/revoke` : apiPath`/api/tenants/${tenant}/keys/${k.uniqueIdentifier}/destroy`;
    const after = await api<Key>('POST', path, kind === 'revoke' ? { reason, message, confirm: typed } : { confirm: typed });
    setKeys((cur) => cur.map((x) => (x.uniqueIdentifier === after.uniqueIdentifier ? after : x)));
    setOk(`${kind === 'revoke' ? 'revoked' : 'destroyed'} ${k.uniqueIdentifier}: now ${after.state}`);
    setPending(undefined);
  }

  return (
    <section>
      <h1>Keys of <code>{tenant}</code></h1>
      <form class="panel search" data-test="search" onSubmit={(e) => { e.preventDefault(); setError(''); setApplied(search); }}>
        <label>VM or host (x-Name) <input name="vm" value={search.vm} onInput={set('vm')} /></label>
        <label>Identifier (x-Identifier) <input name="identifier" value={search.identifier} onInput={set('identifier')} /></label>
        <label>Component (x-Component) <input name="component" value={search.component} onInput={set('component')} /></label>
        <button type="submit">Search</button>
        <label>Filter this list <input name="filter" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} placeholder="uid, tag, state" /></label>
      </form>
      <Message error={error} ok={ok} />
      <table data-test="keys">
        <thead><tr><th>Key (uid)</th><th>VM / host</th><th>Component</th><th>Identifier</th><th>State</th><th>Created</th><th>Activated</th><th>Algorithm</th><th /></tr></thead>
        <tbody>
          {shown.map((k) => (
            <tr key={k.uniqueIdentifier} data-uid={k.uniqueIdentifier}>
              <td><code>{k.uniqueIdentifier}</code>{k.names.length > 0 && <div class="muted">{k.names.join(', ')}</div>}</td>
              <td data-test="tag-name">{k.tags.name}</td>
              <td data-test="tag-component">{k.tags.component}</td>
              <td data-test="tag-identifier">{k.tags.identifier}</td>
              <td data-test="state">{k.state}</td>
              <td><When iso={k.dates['Initial Date']} /></td>
              <td><When iso={k.dates['Activation Date']} /></td>
              <td>{k.cryptographicAlgorithm} {k.cryptographicLength || ''}</td>
              <td class="actions">
                {role === 'ADMIN' && !k.state.startsWith('Destroyed') && <>
                  <button data-test="revoke" onClick={() => { setOk(''); setPending({ kind: 'revoke', key: k }); }} disabled={k.state === 'Compromised'}>Revoke</button>
                  <button class="danger" data-test="destroy" onClick={() => { setOk(''); setPending({ kind: 'destroy', key: k }); }}>Destroy</button>
                </>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p class="muted">No keys{applied.vm || applied.identifier || applied.component || needle ? ' match' : ''}.</p>}
      {next && <button onClick={() => load(applied, next)}>More</button>}
      {pending && (
        <Confirm
          title={pending.kind === 'revoke' ? 'Revoke key' : 'Destroy key'}
          expected={pending.key.uniqueIdentifier}
          action={pending.kind === 'revoke' ? 'Revoke' : 'Destroy'}
          danger={pending.kind === 'destroy'}
          onCancel={() => setPending(undefined)}
          onConfirm={(typed) => act(pending.key, pending.kind, typed)}
        >
          <p>VM or host: <strong>{pending.key.tags.name || '(none)'}</strong>, state <strong>{pending.key.state}</strong>.</p>
          {pending.kind === 'revoke' ? <>
            <p>As a KMIP client's Revoke: a compromised key can still be fetched to decrypt what it protected; destroy it to end that.</p>
            <label>Reason <select name="reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
              {REASONS.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
            </select></label>
            <label>Message <input name="message" value={message} maxLength={1024} onInput={(e) => setMessage((e.target as HTMLInputElement).value)} /></label>
          </> : <p>Its wrapped key is deleted in the key provider: the disk or VM it encrypts can no longer be unlocked. An Active key must be revoked first.</p>}
        </Confirm>
      )}
    </section>
  );
}
