import { Command, CommanderError } from 'commander';
import { CliError, Ctx, GlobalOptions, createCtx } from './context';
import * as audit from './commands/audit';
import * as certs from './commands/certs';
import * as keys from './commands/keys';
import * as operators from './commands/operators';
import * as rootkey from './commands/rootkey';
import * as tenants from './commands/tenants';
import * as vcenter from './commands/vcenter';
import { secondsUpTo } from './options';

export { CliError } from './context';
export * as views from './views';

/** Builds the `keywarden` program; `run` parses argv and returns the exit code. */
export function buildProgram(): { program: Command; cleanup: () => void } {
  const program = new Command('keywarden')
    .description('keywarden operator CLI (Admin API over mTLS)')
    .version((require('../package.json') as { version: string }).version)
    .option('--data-dir <dir>', 'local stack data directory (endpoint and PKI from it)', process.env.KEYWARDEN_DATA_DIR ?? 'var')
    .option('--endpoint <host:port>', 'Admin API address (default: from --data-dir, else KEYWARDEN_ADMIN_ADDR, else localhost:7001)')
    .option('--pki-dir <dir>', 'directory with the internal CA (ca.crt) and your operator certificate (default: KEYWARDEN_PKI_DIR, else <data-dir>/pki/internal)', process.env.KEYWARDEN_PKI_DIR || undefined)
    .option('--cert <name>', 'operator certificate name in the PKI directory (<name>.crt/.key; default: KEYWARDEN_CERT, else admin)', process.env.KEYWARDEN_CERT || 'admin')
    .option('--timeout <seconds>', 'per-call deadline', secondsUpTo(3600), 30)
    .option('--json', 'machine-readable output')
    .exitOverride()
    .showHelpAfterError();
  let ctx: Ctx | undefined;
  const globals = () => program.opts<GlobalOptions>();
  const getCtx = () => (ctx ??= createCtx(globals()));
  tenants.register(program, getCtx);
  certs.register(program, getCtx);
  keys.register(program, getCtx);
  rootkey.register(program, getCtx);
  audit.register(program, getCtx);
  operators.register(program, getCtx);
  vcenter.register(program, getCtx, globals);
  return { program, cleanup: () => ctx?.close() };
}

export async function run(argv: string[]): Promise<number> {
  const { program, cleanup } = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliError) {
      process.stderr.write(`keywarden: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`keywarden: ${(e as Error).message}\n`);
    return 1;
  } finally {
    cleanup();
  }
}
