import { useEffect, useState } from 'preact/hooks';
import { api, apiPath, Certificate, Role, Tenant } from '../api';
import { Message, When } from '../components';

/** Largest certificate file accepted (the server's limit too). */
const MAX_FILE = 64 * 1024;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** What to send for a chosen file: PEM text as it is, anything else as DER in base64; refused here when it cannot be a certificate. */
async function fromFile(f: File): Promise<{ pem?: string; der?: string }> {
  if (f.size > MAX_FILE) throw new Error(`${f.name} is ${(f.size / 1024 / 1024).toFixed(1)} MiB; a certificate file is at most 64 KiB`);
  const bytes = new Uint8Array(await f.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  if (PRIVATE_KEY.test(text)) throw new Error(`${f.name} holds a private key: never upload a private key; choose the certificate`);
  return text.includes('-----BEGIN') ? { pem: text } : { der: base64(bytes) };
}

function Expiry({ c }: { c: Certificate }) {
  if (c.daysLeft === null) return <When iso={c.notAfter} />;
  if (c.daysLeft < 0) return <span class="warning" data-test="expiry-warning"><When iso={c.notAfter} /> — expired</span>;
  return (
    <span class={c.expiresSoon ? 'warning' : ''} data-test={c.expiresSoon ? 'expiry-warning' : 'expiry'}>
      <When iso={c.notAfter} /> ({c.daysLeft} days{c.expiresSoon ? ': renew it soon' : ''})
    </span>
  );
}

export function Certificates({ role }: { role: Role }) {
  const [certs, setCerts] = useState<Certificate[]>([]);
  const [tenants, setTenants] = useState<Tenant[]>([]);
  const [tenant, setTenant] = useState('');
  const [paste, setPaste] = useState('');
  const [file, setFile] = useState<File | undefined>();
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [added, setAdded] = useState<Certificate | undefined>();
  const [removing, setRemoving] = useState('');
  const load = () => api<Certificate[]>('GET', '/api/certificates').then(setCerts, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
    api<Tenant[]>('GET', '/api/tenants').then((ts) => {
      setTenants(ts);
      setTenant((cur) => cur || ts[0]?.id || '');
    }, () => undefined);
  }, []);

  async function register(e: Event) {
    e.preventDefault();
    setError('');
    setOk('');
    setAdded(undefined);
    try {
      let body: { pem?: string; der?: string };
      if (file) body = await fromFile(file);
      else if (PRIVATE_KEY.test(paste)) throw new Error('the pasted text holds a private key: never paste a private key; paste the certificate');
      else body = { pem: paste };
      const c = await api<Certificate>('POST', '/api/certificates', { tenant, ...body });
      setAdded(c);
      setOk(`registered ${c.fingerprint} for tenant ${c.tenantId}`);
      setPaste('');
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <section>
      <h1>Certificates</h1>
      {role === 'ADMIN' && (
        <form class="panel" data-test="register" onSubmit={register}>
          <h2>Register a client certificate</h2>
          <label>Tenant
            <select name="tenant" value={tenant} onChange={(e) => setTenant((e.target as HTMLSelectElement).value)}>
              {tenants.map((t) => <option key={t.id} value={t.id}>{t.id}</option>)}
            </select>
          </label>
          <label>Certificate file (PEM or DER) <input name="file" type="file" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])} /></label>
          <label>or paste PEM <textarea name="pem" rows={5} spellcheck={false} value={paste} onInput={(e) => setPaste((e.target as HTMLTextAreaElement).value)} placeholder="-----BEGIN CERTIFICATE-----" /></label>
          <button type="submit" disabled={!tenant || (!file && !paste.trim())}>Register</button>
          <Message error={error} ok={ok} />
          {added && (
            <dl data-test="added">
              <dt>Fingerprint (SHA-256)</dt><dd><code>{added.fingerprint}</code></dd>
              <dt>Subject</dt><dd>{added.subject}</dd>
              <dt>Expires</dt><dd><Expiry c={added} /></dd>
              {added.warnings.map((w) => <dd key={w} class="warning">{w}</dd>)}
            </dl>
          )}
        </form>
      )}
      {role !== 'ADMIN' && <Message error={error} />}
      <table data-test="certificates">
        <thead><tr><th>Fingerprint (SHA-256)</th><th>Tenant</th><th>Subject</th><th>Expires</th><th /></tr></thead>
        <tbody>
          {certs.map((c) => (
            <tr key={c.fingerprint} data-fingerprint={c.fingerprint}>
              <td><code class="fp">{c.fingerprint}</code></td>
              <td>{c.tenantId}</td>
              <td>{c.subject}</td>
              <td><Expiry c={c} /></td>
              <td class="actions">
                {role === 'ADMIN' && (removing === c.fingerprint
                  ? <>
                    <button class="danger" data-test="remove-confirm" onClick={() => api('POST', apiPath`/api/certificates/${c.fingerprint}/remove`).then(() => { setRemoving(''); setOk(`removed ${c.fingerprint}: its KMIP connections are closed`); return load(); }, (e: Error) => setError(e.message))}>Remove: its access ends now</button>
                    <button onClick={() => setRemoving('')}>Keep</button>
                  </>
                  : <button data-test="remove" onClick={() => setRemoving(c.fingerprint)}>Remove</button>)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {certs.length === 0 && <p class="muted">No certificates registered.</p>}
    </section>
  );
}
