import { useEffect, useState } from 'preact/hooks';
import { api, apiPath, RootKey, Tenant } from '../api';
import { Message, When } from '../components';

export function Tenants() {
  const [tenants, setTenants] = useState<Tenant[] | undefined>();
  const [states, setStates] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  useEffect(() => {
    api<Tenant[]>('GET', '/api/tenants').then((ts) => {
      setTenants(ts);
      // Each root key's state is asked of its provider: one call per tenant, shown as they arrive.
      for (const t of ts) {
        api<RootKey>('GET', apiPath`/api/tenants/${t.id}/rootkey`).then(
          (s) => setStates((m) => ({ ...m, [t.id]: s.state })),
          (e: Error) => setStates((m) => ({ ...m, [t.id]: `unknown (${e.message})` })),
        );
      }
    }, (e: Error) => setError(e.message));
  }, []);
  return (
    <section>
      <h1>Tenants</h1>
      <Message error={error} />
      {tenants && (
        <table data-test="tenants">
          <thead><tr><th>Tenant</th><th>Name</th><th>Provider</th><th>Instance</th><th>Root key</th><th>Keys</th><th>Certificates</th><th>Created</th><th /></tr></thead>
          <tbody>
            {tenants.map((t) => (
              <tr key={t.id} data-tenant={t.id}>
                <td><code>{t.id}</code></td>
                <td data-test="tenant-name">{t.name}</td>
                <td>{t.provider.kind}</td>
                <td><code>{t.provider.instanceId}</code></td>
                <td data-test="root-key-state">{states[t.id] ?? '…'}</td>
                <td data-test="key-count">{t.keyCount}</td>
                <td data-test="cert-count">{t.certificateCount}</td>
                <td><When iso={t.createdAt} /></td>
                <td class="actions"><a href={`#/tenants/${encodeURIComponent(t.id)}/keys`}>Keys</a> <a href={`#/tenants/${encodeURIComponent(t.id)}/rootkey`}>Root key</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {tenants?.length === 0 && <p class="muted">No tenants yet: create one with <code>keywarden tenant create</code>.</p>}
    </section>
  );
}
