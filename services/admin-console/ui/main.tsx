// The keywarden admin console's page: a small Preact app, routed by the URL
// fragment. Everything it shows comes from the console's JSON API; text from
// tenants, keys and tags is rendered as text (Preact escapes it), never as HTML.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, SessionInfo, setSession, whenSessionEnds } from './api';
import { Audit } from './pages/audit';
import { Certificates } from './pages/certificates';
import { Keys } from './pages/keys';
import { Login } from './pages/login';
import { RootKeyPage } from './pages/rootkey';
import { Tenants } from './pages/tenants';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Page({ hash, s }: { hash: string; s: SessionInfo }) {
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '';
    }
  });
  if (parts[0] === 'certificates') return <Certificates role={s.role} />;
  if (parts[0] === 'audit') return <Audit />;
  if (parts[0] === 'tenants' && parts[1] && parts[2] === 'keys') return <Keys key={parts[1]} tenant={parts[1]} role={s.role} />;
  if (parts[0] === 'tenants' && parts[1] && parts[2] === 'rootkey') return <RootKeyPage key={parts[1]} tenant={parts[1]} role={s.role} />;
  return <Tenants />;
}

function App() {
  const [session, setS] = useState<SessionInfo | undefined>();
  const [checked, setChecked] = useState(false);
  const [notice, setNotice] = useState('');
  const hash = useHash();
  const signedIn = (s: SessionInfo | undefined) => {
    setSession(s);
    setS(s);
  };
  useEffect(() => {
    whenSessionEnds((m) => { setNotice(m); signedIn(undefined); });
    api<SessionInfo>('GET', '/api/session').then(signedIn, () => undefined).finally(() => setChecked(true));
  }, []);
  if (!checked) return null;
  if (!session) return <Login notice={notice} onSignedIn={(s) => { setNotice(''); signedIn(s); }} />;
  const here = hash.replace(/^#\/?/, '').split('/')[0] || 'tenants';
  return (
    <>
      <header>
        <strong>keywarden</strong>
        <nav>
          <a href="#/tenants" class={here === 'tenants' ? 'here' : ''}>Tenants</a>
          <a href="#/certificates" class={here === 'certificates' ? 'here' : ''}>Certificates</a>
          <a href="#/audit" class={here === 'audit' ? 'here' : ''}>Audit</a>
        </nav>
        <span class="who" data-test="who">{session.operator} <span class="badge">{session.role === 'ADMIN' ? 'admin' : 'viewer: read-only'}</span></span>
        <button data-test="sign-out" onClick={() => api('POST', '/api/logout').finally(() => { setNotice('signed out'); signedIn(undefined); })}>Sign out</button>
      </header>
      <main><Page hash={hash} s={session} /></main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
