// The console's way to the Admin API: one gRPC channel with the console's own
// operator certificate (spiffe://keywarden/operator/console), and on every
// call the person it acts for, whom key-lifecycle checks and audits
// (docs/console.md, "Who did what").
import { channelCredentials, channelOptions, grpc, isGrpcError, TlsFiles } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';

/** Metadata keys key-lifecycle reads from the console's certificate alone (admin-service.ts). */
export const ACTING_OPERATOR = 'keywarden-operator';
export const OPERATOR_EPOCH = 'keywarden-operator-epoch';

/** The person a call acts for: the account signed in, and the password epoch of that sign-in. */
export interface Actor {
  name: string;
  epoch: string;
}

type Unary = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void;

export class AdminGateway {
  private readonly client: adminV1.AdminClient;

  constructor(readonly address: string, tls: TlsFiles, private readonly deadlineMs = 30_000) {
    this.client = new adminV1.AdminClient(address, channelCredentials(tls), channelOptions());
  }

  private metadata(actor: Actor | undefined): grpc.Metadata {
    const md = new grpc.Metadata();
    if (actor) {
      md.set(ACTING_OPERATOR, actor.name);
      md.set(OPERATOR_EPOCH, actor.epoch);
    }
    return md;
  }

  /** One unary Admin call for `actor` (none only for the sign-in check). */
  call<Res>(method: keyof adminV1.AdminClient, req: object, actor: Actor | undefined): Promise<Res> {
    const fn = (this.client as unknown as Record<string, Unary>)[method];
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, this.metadata(actor), { deadline: Date.now() + this.deadlineMs }, (e, r) => (e ? reject(e) : resolve(r as Res)));
    });
  }

  /** A rewrap job's progress until it ends; cancel() stops listening. */
  watchRewrap(jobId: string, actor: Actor, onJob: (j: adminV1.RewrapJob) => void): { done: Promise<void>; cancel: () => void } {
    const stream = this.client.watchRewrap({ jobId }, this.metadata(actor));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', onJob);
      stream.on('end', () => resolve());
      stream.on('error', (e: unknown) => (isGrpcError(e) && e.code === grpc.status.CANCELLED ? resolve() : reject(e)));
    });
    return { done, cancel: () => stream.cancel() };
  }

  close(): void {
    this.client.close();
  }
}
