// Reads a guide's fenced code blocks and runs the marked ones with bash, for
// the doc tests (test/e2e/migration-doc.test.ts). Convention: a fenced `sh`
// block whose previous non-blank line is `<!-- doc-test: <step> -->` is run;
// every other block is not, and must not run `keywarden`. Commands quoted in
// the text are checked against the CLI's command tree and against the
// commands the marked blocks run.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Command } from 'commander';

export interface Block {
  /** Info string of the fence ("sh", "powershell", ""). */
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** 1-based line of the closing fence (the last line, when the fence is never closed). */
  end: number;
  /** The step id of a `<!-- doc-test: <step> -->` marker, when the block has one. */
  step?: string;
}

const MARKER = /^<!--\s*doc-test:\s*([a-z0-9-]+)\s*-->$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*$/;

/** Every fenced code block of a Markdown text, with its doc-test marker. */
export function fencedBlocks(md: string): Block[] {
  const lines = md.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let prev = i - 1;
    while (prev >= 0 && lines[prev].trim() === '') prev--;
    const marker = prev >= 0 ? MARKER.exec(lines[prev].trim()) : null;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = lines[j].trim();
      if (close.startsWith(fence[0].repeat(fence.length)) && /^[`~]+$/.test(close)) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    out.push({ lang, body: body.join('\n'), line: i + 1, end: Math.min(j, lines.length - 1) + 1, step: marker?.[1] });
    i = j;
  }
  return out;
}

/** The text of a Markdown document outside its fenced blocks. */
export function prose(md: string): string {
  const inBlock = new Set<number>();
  for (const b of fencedBlocks(md)) for (let k = b.line; k <= b.end; k++) inBlock.add(k);
  return md.split('\n').filter((_, k) => !inBlock.has(k + 1)).join('\n');
}

/** Shell commands of a block: continuation lines joined, blank and comment-only lines dropped. */
export function shellCommands(body: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of body.split('\n')) {
    if (cur === '' && (raw.trim() === '' || raw.trim().startsWith('#'))) continue;
    cur += (cur ? '\n' : '') + raw;
    if (!raw.endsWith('\\')) {
      out.push(cur);
      cur = '';
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** `keywarden` (or `npx keywarden`) in command position: at the start, after a shell operator, in `$(`. */
const INVOCATION = /(?:^|[;&|(]|\$\()\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:npx\s+)?keywarden(?=\s|$)/m;

/** The lines of a block that run `keywarden`. */
export function keywardenLines(body: string): string[] {
  return body.split('\n').filter((l) => INVOCATION.test(l.replace(/#.*$/, '')));
}

/** Blocks that are not run but run `keywarden`: each one an untested instruction. */
export function untestedInvocations(blocks: Block[]): Array<{ line: number; text: string }> {
  return blocks.filter((b) => !(b.step && b.lang === 'sh')).flatMap((b) => keywardenLines(b.body).map((text) => ({ line: b.line, text: text.trim() })));
}

/** `keywarden …` commands quoted inline in the text (`keywarden key list acme`). */
export function inlineCommands(md: string): string[] {
  return [...prose(md).matchAll(/`((?:npx\s+)?keywarden(?:\s[^`]*)?)`/g)].map((m) => m[1]);
}

/** Words of one shell command, up to the first redirection, pipe or comment; quotes removed. */
function words(cmd: string): string[] {
  const out: string[] = [];
  for (const m of cmd.replace(/\\\n/g, ' ').matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    const w = m[1] ?? m[2] ?? m[3];
    // A placeholder (<tenant>) is a word; any other token starting like an operator ends the command.
    if (m[3] !== undefined && !/^<[^<>]+>$/.test(m[3]) && /^(\d?>|<|\||&&|;|#)/.test(m[3])) break;
    out.push(w);
  }
  return out;
}

export interface Invocation {
  /** The subcommand path, e.g. "key list"; "" when none is named. */
  path: string;
  /** Long options given to the subcommand, e.g. ["--vm"]. */
  options: string[];
  /** Long options given to the program itself (--endpoint, --json …). */
  globals: string[];
  /** Why it is not a valid invocation of the CLI, if it is not. */
  problem?: string;
}

/** Resolves a `keywarden …` command against the CLI's command tree. */
export function resolve(program: Command, cmd: string): Invocation {
  const w = words(cmd);
  while (w.length && w[0] !== 'keywarden') w.shift();
  w.shift();
  const takesValue = (c: Command, long: string) => {
    const o = c.options.find((x) => x.long === long);
    return Boolean(o?.required || o?.optional);
  };
  const inv: Invocation = { path: '', options: [], globals: [] };
  let cur = program;
  const names: string[] = [];
  let firstArgument: string | undefined;
  for (let i = 0; i < w.length; i++) {
    const t = w[i];
    if (t.startsWith('--')) {
      const long = t.split('=')[0];
      if (cur === program || (!cur.options.some((o) => o.long === long) && program.options.some((o) => o.long === long))) {
        if (!program.options.some((o) => o.long === long)) inv.problem ??= `unknown option ${long}`;
        inv.globals.push(long);
        if (!t.includes('=') && takesValue(program, long)) i++;
      } else {
        if (!cur.options.some((o) => o.long === long)) inv.problem ??= `unknown option ${long} of "${names.join(' ')}"`;
        inv.options.push(long);
        if (!t.includes('=') && takesValue(cur, long)) i++;
      }
      continue;
    }
    const sub = firstArgument === undefined ? cur.commands.find((c) => c.name() === t) : undefined;
    if (sub) {
      cur = sub;
      names.push(t);
    } else {
      firstArgument ??= t;
    }
  }
  inv.path = names.join(' ');
  // "keywarden …" stands for any command; any other first word must be one.
  if (cur === program && firstArgument !== undefined && !/^(…|\.\.\.)$/.test(firstArgument)) inv.problem ??= `unknown command "${firstArgument}"`;
  else if (cur.commands.length > 0 && cur !== program) inv.problem ??= `"${inv.path}" needs a subcommand`;
  return inv;
}

/**
 * Commands quoted in the text or in blocks that no tested block covers: one
 * is covered when a tested command has the same subcommand path and at least
 * its subcommand options. Also reports commands the CLI does not know.
 */
export function uncovered(program: Command, tested: string[], quoted: string[]): string[] {
  const runs = tested.map((c) => resolve(program, c));
  const out: string[] = [];
  for (const q of quoted) {
    const inv = resolve(program, q);
    if (inv.problem) out.push(`${q}: ${inv.problem}`);
    else if (inv.path && !runs.some((r) => r.path === inv.path && inv.options.every((o) => r.options.includes(o)))) {
      out.push(`${q}: no tested block runs "keywarden ${inv.path}"${inv.options.length ? ` with ${inv.options.join(' ')}` : ''}`);
    }
  }
  return out;
}

export interface CommandResult {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface BlockRunner {
  /** Working directory of the guide's commands (files the guide names live here). */
  workDir: string;
  /** Where the runner keeps each command's output and the shell state between blocks. */
  stateDir: string;
  /** The bash function body standing for `keywarden` (e.g. `node …/main.js --data-dir … "$@"`). */
  keywarden: string;
  /** Extra environment of every block. */
  env: Record<string, string>;
  /** Standard input of every block (what `read` gets). */
  input: string;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs one block's commands in bash, in order, each with its own captured
 * output and exit code; stops at the first that fails. Variables exported
 * and the directory changed to carry over to the next block.
 */
export function runBlock(r: BlockRunner, commands: string[], timeoutMs = 120_000): CommandResult[] {
  const s = shellQuote(r.stateDir);
  const envFile = path.join(r.stateDir, 'env.sh');
  const pwdFile = path.join(r.stateDir, 'pwd');
  for (let i = 0; i < commands.length; i++) for (const ext of ['out', 'err', 'rc']) fs.rmSync(path.join(r.stateDir, `${i}.${ext}`), { force: true });
  const script = [
    'set -uo pipefail',
    `cd ${shellQuote(fs.existsSync(pwdFile) ? fs.readFileSync(pwdFile, 'utf8').trim() : r.workDir)}`,
    `if [ -f ${shellQuote(envFile)} ]; then . ${shellQuote(envFile)}; fi`,
    `keywarden() { ${r.keywarden}; }`,
    ...commands.map((c, i) => [
      '{',
      c,
      `} >${s}/${i}.out 2>${s}/${i}.err`,
      `echo $? >${s}/${i}.rc`,
      `[ "$(cat ${s}/${i}.rc)" = 0 ] || exit 0`,
    ].join('\n')),
    `export -p >${shellQuote(envFile)}`,
    `pwd >${shellQuote(pwdFile)}`,
  ].join('\n');
  const res = spawnSync('bash', ['-c', script], { env: { ...r.env }, input: r.input, encoding: 'utf8', timeout: timeoutMs });
  const out: CommandResult[] = [];
  for (let i = 0; i < commands.length; i++) {
    const read = (ext: string) => (fs.existsSync(path.join(r.stateDir, `${i}.${ext}`)) ? fs.readFileSync(path.join(r.stateDir, `${i}.${ext}`), 'utf8') : undefined);
    const rc = read('rc');
    if (rc === undefined) {
      out.push({ command: commands[i], code: null, stdout: read('out') ?? '', stderr: `${read('err') ?? ''}(the command did not finish; bash: ${res.status ?? res.signal} ${res.stderr.slice(-500)})` });
      break;
    }
    out.push({ command: commands[i], code: Number(rc.trim()), stdout: read('out') ?? '', stderr: read('err') ?? '' });
    if (Number(rc.trim()) !== 0) break;
  }
  return out;
}
