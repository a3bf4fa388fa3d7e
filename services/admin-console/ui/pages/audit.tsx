import { useEffect, useState } from 'preact/hooks';
import { api, AuditEntry } from '../api';
import { Message, When } from '../components';

interface Filters { tenant: string; cert: string; op: string; result: string }

const OPS = ['Create', 'Get', 'Activate', 'Revoke', 'Destroy', 'Locate', 'AddAttribute', 'Identify', 'Admin.AddCertificate', 'Admin.RemoveCertificate',
  'Admin.RevokeKey', 'Admin.DestroyKey', 'Admin.RotateRootKey', 'Admin.StartRewrap', 'Admin.ShredRootKey', 'Admin.VerifyOperatorPassword'];

export function Audit() {
  const [filters, setFilters] = useState<Filters>({ tenant: '', cert: '', op: '', result: '' });
  const [applied, setApplied] = useState<Filters>(filters);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState('');
  const [error, setError] = useState('');
  const load = (f: Filters, page = '') => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v.trim()) p.set(k, v.trim());
    if (page) p.set('page', page);
    return api<{ entries: AuditEntry[]; next: string }>('GET', `/api/audit?${p}`).then((r) => {
      setEntries((cur) => (page ? [...cur, ...r.entries] : r.entries));
      setNext(r.next);
    }, (e: Error) => setError(e.message));
  };
  useEffect(() => { void load(applied); }, [applied]);
  const set = (f: keyof Filters) => (e: Event) => setFilters({ ...filters, [f]: (e.target as HTMLInputElement).value });
  return (
    <section>
      <h1>Audit trail</h1>
      <form class="panel search" data-test="audit-filters" onSubmit={(e) => { e.preventDefault(); setError(''); setApplied(filters); }}>
        <label>Tenant <input name="tenant" value={filters.tenant} onInput={set('tenant')} /></label>
        <label>Certificate (SHA-256) <input name="cert" value={filters.cert} onInput={set('cert')} /></label>
        <label>Operation <input name="op" list="ops" value={filters.op} onInput={set('op')} /></label>
        <datalist id="ops">{OPS.map((o) => <option key={o} value={o} />)}</datalist>
        <label>Result <select name="result" value={filters.result} onChange={set('result')}>
          <option value="">any</option><option value="ok">ok</option><option value="failed">failed</option>
        </select></label>
        <button type="submit">Filter</button>
      </form>
      <Message error={error} />
      <table data-test="audit">
        <thead><tr><th>Time</th><th>Operation</th><th>Tenant</th><th>Key</th><th>Result</th><th>Operator</th><th>Certificate</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td><When iso={e.time} /></td>
              <td data-test="op">{e.op}</td>
              <td>{e.tenantId}</td>
              <td><code>{e.uniqueIdentifier}</code></td>
              <td data-test="result" class={e.result === 'ok' ? '' : 'warning'}>{e.result}{e.reason ? ` (${e.reason})` : ''}</td>
              <td data-test="operator">{e.operator}{e.detail.via ? <span class="muted"> via {e.detail.via}</span> : null}</td>
              <td><code class="fp" title={e.cert}>{e.cert.slice(0, 16)}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.length === 0 && <p class="muted">No entries match.</p>}
      {next && <button onClick={() => load(applied, next)}>Older</button>}
    </section>
  );
}
