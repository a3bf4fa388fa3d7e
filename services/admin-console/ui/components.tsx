import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export function Message({ error, ok }: { error?: string; ok?: string }) {
  if (error) return <p class="message error" role="alert" data-test="error">{error}</p>;
  if (ok) return <p class="message ok" role="status" data-test="ok">{ok}</p>;
  return null;
}

/** A date as the operator's local time, with the exact RFC 3339 value on hover. */
export function When({ iso }: { iso?: string }) {
  if (!iso) return <span class="muted">-</span>;
  const d = new Date(iso);
  return <time dateTime={iso} title={iso}>{Number.isNaN(d.getTime()) ? iso : d.toLocaleString()}</time>;
}

/**
 * A confirmation for what cannot be undone: the operator types `expected`
 * (a key's uid, a tenant id) before the button arms.
 */
export function Confirm(props: {
  title: string; expected: string; action: string; danger?: boolean; children?: ComponentChildren;
  onConfirm: (typed: string) => Promise<void>; onCancel: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const armed = typed === props.expected && !busy;
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-label={props.title} data-test="confirm">
      <form onSubmit={async (e) => {
        e.preventDefault();
        if (!armed) return;
        setBusy(true);
        setError('');
        try {
          await props.onConfirm(typed);
        } catch (err) {
          setError((err as Error).message);
          setBusy(false);
        }
      }}>
        <h2>{props.title}</h2>
        {props.children}
        <label>Type <code>{props.expected}</code> to confirm
          <input name="confirm" autocomplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
        </label>
        <Message error={error} />
        <div class="buttons">
          <button type="submit" class={props.danger ? 'danger' : ''} disabled={!armed} data-test="confirm-button">{props.action}</button>
          <button type="button" onClick={props.onCancel}>Cancel</button>
        </div>
      </form>
    </div>
  );
}

export function Progress({ done, total, percent }: { done: number; total: number; percent: number }) {
  return (
    <div class="progress" data-test="progress">
      <progress max={100} value={percent} aria-label="rewrap progress" />
      <span data-test="percent">{percent} %</span> <span class="muted">({done} of {total} keys)</span>
    </div>
  );
}
