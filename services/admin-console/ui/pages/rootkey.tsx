import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiPath, Job, Role, RootKey } from '../api';
import { Confirm, Message, Progress, When } from '../components';

export function RootKeyPage({ tenant, role }: { tenant: string; role: Role }) {
  const [status, setStatus] = useState<RootKey | undefined>();
  const [job, setJob] = useState<Job | undefined>();
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [shredding, setShredding] = useState(false);
  const [busy, setBusy] = useState(false);
  const events = useRef<EventSource | undefined>(undefined);
  const load = () => api<RootKey>('GET', apiPath`/api/tenants/${tenant}/rootkey`).then(setStatus, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
    return () => events.current?.close();
  }, [tenant]);

  /** Follows the rewrap job (WatchRewrap, relayed as server-sent events) until it ends. */
  function follow(j: Job) {
    setJob(j);
    events.current?.close();
    const es = new EventSource(apiPath`/api/rewrap/${j.jobId}/events`);
    events.current = es;
    es.onmessage = (m) => setJob(JSON.parse(m.data) as Job);
    const finish = (text?: string) => {
      es.close();
      setBusy(false);
      if (text) setError(text);
      void load();
    };
    es.addEventListener('end', () => finish());
    es.addEventListener('failure', (m) => finish((JSON.parse((m as MessageEvent).data) as { error: string }).error));
    es.onerror = () => finish('the progress stream was interrupted; reload to see the job\'s state');
  }

  async function rotate() {
    setError('');
    setOk('');
    setBusy(true);
    try {
      const r = await api<{ status: RootKey; job: Job }>('POST', apiPath`/api/tenants/${tenant}/rootkey/rotate`);
      setStatus(r.status);
      setOk(`rotated: root key now at version ${r.status.currentVersion}; rewrapping every key`);
      follow(r.job);
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  }

  return (
    <section>
      <h1>Root key of <code>{tenant}</code></h1>
      <Message error={error} ok={ok} />
      {status && (
        <dl class="panel" data-test="rootkey">
          <dt>Root key</dt><dd><code>{status.crkId}</code></dd>
          <dt>State</dt><dd data-test="rootkey-state">{status.state}</dd>
          <dt>Version</dt><dd><code>{status.currentVersion || '-'}</code></dd>
          <dt>Last rotated</dt><dd><When iso={status.lastRotated} /></dd>
          <dt>Keys on older versions</dt><dd data-test="older">{status.keysOnOlderVersions}</dd>
          {status.detail && <><dt>Detail</dt><dd>{status.detail}</dd></>}
        </dl>
      )}
      {job && (
        <div class="panel" data-test="rewrap">
          <h2>Rewrap {job.status === 'running' ? 'running' : job.status}</h2>
          <Progress done={job.done} total={job.total} percent={job.percent} />
          {job.status !== 'running' && <p data-test="rewrap-result">{job.rewrapped} rewrapped, {job.failed} failed of {job.total}{job.error ? ` (${job.error})` : ''}</p>}
        </div>
      )}
      {role === 'ADMIN' && (
        <div class="buttons">
          <button data-test="rotate" disabled={busy || status?.state !== 'ACTIVE'} onClick={rotate}>Rotate and rewrap every key</button>
          <button class="danger" data-test="shred" disabled={busy} onClick={() => setShredding(true)}>Shred…</button>
        </div>
      )}
      {shredding && (
        <Confirm title="Crypto-shred the root key" expected={tenant} action="Delete the root key" danger onCancel={() => setShredding(false)}
          onConfirm={async (typed) => {
            const s = await api<RootKey>('POST', apiPath`/api/tenants/${tenant}/rootkey/shred`, { confirm: typed });
            setStatus(s);
            setShredding(false);
            setOk('the root key is deleted: every key of this tenant is unusable');
          }}>
          <p>The root key is deleted in the provider. <strong>Every key of tenant {tenant} becomes unusable, for good.</strong></p>
        </Confirm>
      )}
    </section>
  );
}
