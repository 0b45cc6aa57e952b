/**
 * Typed DL/T 645 failures. Each names the meter, the bus and the data identifier, and says
 * whether the meter answered (an error reply) or not (timeout, garbage, link down): only a meter
 * that does not answer is backed off by its poller.
 */
export type Dlt645ErrorKind = 'timeout' | 'frame' | 'error-reply' | 'connection' | 'unavailable';

export interface Dlt645Target {
  bus: string;
  address: string;
  /** Data identifier, or `read-address` for 13h. */
  what: string;
  device?: string;
}

export class Dlt645Error extends Error {
  override name = 'Dlt645Error';
  constructor(
    readonly kind: Dlt645ErrorKind,
    readonly target: Dlt645Target,
    detail: string,
    opts?: { cause?: unknown },
  ) {
    super(`${target.device ? `device ${target.device} (meter ${target.address} on ${target.bus})` : `meter ${target.address} on ${target.bus}`} ${target.what}: ${detail}`, opts);
  }

  /** The meter replied (with an error reply): it is alive, only this value is unavailable. */
  get deviceAnswered(): boolean {
    return this.kind === 'error-reply';
  }
}
