import { useState } from 'preact/hooks';
import { api, SessionInfo } from '../api';
import { Message } from '../components';

export function Login({ notice, onSignedIn }: { notice: string; onSignedIn: (s: SessionInfo) => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <h1>keywarden console</h1>
      <form data-test="login" onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError('');
        try {
          onSignedIn(await api<SessionInfo>('POST', '/api/login', { name, password }));
        } catch (err) {
          setError((err as Error).message);
          setPassword('');
        } finally {
          setBusy(false);
        }
      }}>
        <Message ok={error ? '' : notice} />
        <label>Operator <input name="name" autocomplete="username" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
        <Message error={error} />
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
