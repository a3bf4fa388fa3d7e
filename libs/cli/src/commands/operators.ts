// Console operator accounts (docs/console.md). The password is hashed here
// (scrypt, a salt of its own) and only the hash is sent: it never appears on
// a command line, and never crosses the network when it is set.
import { Command } from 'commander';
import { hashPassword, weakPassword } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { table } from '../table';
import { operatorView } from '../views';

const ROLES: Record<string, adminV1.OperatorRole> = { admin: adminV1.OperatorRole.OPERATOR_ROLE_ADMIN, viewer: adminV1.OperatorRole.OPERATOR_ROLE_VIEWER };
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface PasswordOptions { passwordEnv?: string; passwordStdin?: boolean }

function checkName(name: string): void {
  if (!NAME.test(name)) throw new CliError(`"${name}" is not an operator name: 1 to 64 letters, digits, ".", "_" or "-"`, 2);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new CliError('--password-stdin: more than 64 KiB on standard input', 2);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return (done(), resolve(buf));
        if (ch === '\u0003' || ch === '\u0004') return (done(), reject(new CliError('cancelled', 1)));
        buf = ch === '\u007f' || ch === '\b' ? buf.slice(0, -1) : buf + ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The new password: from an environment variable, standard input, or typed twice at the terminal. */
export async function newPassword(o: PasswordOptions): Promise<string> {
  if (o.passwordEnv && o.passwordStdin) throw new CliError('give only one of --password-env and --password-stdin', 2);
  let password: string;
  if (o.passwordEnv) {
    const v = process.env[o.passwordEnv];
    if (!v) throw new CliError(`environment variable ${o.passwordEnv} is empty or unset`, 2);
    password = v;
  } else if (o.passwordStdin) {
    password = await readStdin();
  } else if (process.stdin.isTTY) {
    password = await promptHidden('new password: ');
    if ((await promptHidden('again: ')) !== password) throw new CliError('the two passwords differ', 2);
  } else {
    throw new CliError('no terminal to ask the password on: give --password-env NAME or --password-stdin', 2);
  }
  const weak = weakPassword(password);
  if (weak) throw new CliError(weak, 2);
  return password;
}

export function register(program: Command, ctx: () => Ctx): void {
  const op = program.command('operator').description('console operator accounts: who may sign in to the admin console, as admin or viewer');
  const passwordOptions = (c: Command) => c
    .option('--password-env <NAME>', 'read the password from this environment variable')
    .option('--password-stdin', 'read the password from standard input');

  passwordOptions(op.command('add <name>')
    .description('create an account (asks the password twice unless given another way)')
    .requiredOption('--role <role>', 'admin (everything the console offers) | viewer (read only)'))
    .action(async (name: string, o) => {
      checkName(name);
      const role = ROLES[o.role];
      if (role === undefined) throw new CliError('--role must be admin or viewer', 2);
      const passwordHash = await hashPassword(await newPassword(o));
      const c = ctx();
      const r = operatorView(await c.call<adminV1.Operator>('addOperator', { name, role, passwordHash }));
      c.out(`added operator ${r.name} (${r.role.toLowerCase()})`, r);
    });

  op.command('list').description('list accounts (never their passwords)').action(async () => {
    const c = ctx();
    const r = (await c.call<adminV1.ListOperatorsResponse>('listOperators', {})).operators.map(operatorView);
    c.out(table(['NAME', 'ROLE', 'CREATED', 'PASSWORD CHANGED'], r.map((x) => [x.name, x.role.toLowerCase(), x.createdAt, x.passwordChangedAt])), r);
  });

  op.command('remove <name>').description('remove an account: its console sessions end at their next request').action(async (name: string) => {
    checkName(name);
    const c = ctx();
    await c.call('removeOperator', { name });
    c.out(`removed operator ${name}`, { removed: name });
  });

  passwordOptions(op.command('set-password <name>').description('set a new password: the account\'s console sessions end'))
    .action(async (name: string, o) => {
      checkName(name);
      const passwordHash = await hashPassword(await newPassword(o));
      const c = ctx();
      const r = operatorView(await c.call<adminV1.Operator>('setOperatorPassword', { name, passwordHash }));
      c.out(`new password set for ${r.name}`, r);
    });
}
