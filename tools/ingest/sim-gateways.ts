import mqtt, { type MqttClient } from 'mqtt';

/**
 * Simulated gateways for the ingest tests and benchmark: contract-valid `readings-1m` envelopes
 * (the records a gateway's store writes, with ids `<gateway>/<stream>/<epoch>-<seq>`) published at
 * QoS 1 on `carbonedge/<site>/<gateway>/data/readings-1m`, as a gateway's uplink drains its
 * backlog. The gateway side (outbox, PUBACK bookkeeping) is proven by the uplink's own tests; here
 * only the cloud side is under test, and 50 real gateways would not fit on a test machine.
 */

export const SIM_STREAM = 'readings-1m';
export const SIM_T0 = Date.UTC(2026, 0, 1);

export function simGateway(i: number): string {
  return `gw${String(i).padStart(3, '0')}`;
}

/** A fixed 12-hex-digit store epoch per gateway. */
export function simEpoch(i: number): string {
  return (0x5f3a00000000 + i).toString(16);
}

export function simRecordId(i: number, seq: number): string {
  return `${simGateway(i)}/${SIM_STREAM}/${simEpoch(i)}-${seq}`;
}

/** The topic and JSON envelope of records `seqs` of simulated gateway `i` (40 points per minute). */
export function simEnvelope(i: number, seqs: number[], backfill = false): { topic: string; payload: string } {
  const gw = simGateway(i);
  const epoch = simEpoch(i);
  const recs = seqs.map((seq) => {
    const n = seq - 1;
    const p = n % 40;
    return `{"id":"${gw}/${SIM_STREAM}/${epoch}-${seq}","seq":${seq},"ts":${SIM_T0 + Math.floor(n / 40) * 60_000},"device":"dev${Math.floor(p / 8)}","point":"p${p}","unit":"W","min":${100 + p},"max":${200 + p},"mean":${150.5 + p},"last":170.25,"count":12,"samples":12,"quality":"good"}`;
  });
  return {
    topic: `carbonedge/site${i}/${gw}/data/${SIM_STREAM}`,
    payload: `{"schemaVersion":1,"site":"site${i}","gateway":"${gw}","stream":"${SIM_STREAM}","epoch":"${epoch}","sentAt":${Date.now()},${backfill ? '"backfill":true,' : ''}"records":[${recs.join(',')}]}`,
  };
}

/**
 * Publish the backlogs of gateways `first..first+gateways-1`, `records` each (seq 1..records, minus
 * those `skip` leaves out), in envelopes of `batch` records, at most `inFlight` unacknowledged
 * messages per gateway connection. Resolves when the broker has acknowledged everything.
 */
export async function publishBacklogs(
  url: string,
  o: { gateways: number; records: number; batch: number; inFlight?: number; first?: number; skip?: (gw: number, seq: number) => boolean; backfill?: boolean; onMessage?: () => void },
): Promise<number> {
  const first = o.first ?? 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: o.gateways }, async (_, k) => {
      const i = first + k;
      const client = await mqtt.connectAsync(url, { clientId: `sim-${simGateway(i)}-${process.pid}`, clean: true, reconnectPeriod: 0 });
      try {
        const seqs: number[] = [];
        for (let seq = 1; seq <= o.records; seq++) if (!o.skip?.(i, seq)) seqs.push(seq);
        await window(client, o.inFlight ?? 8, Math.ceil(seqs.length / o.batch), (m) => {
          sent++;
          o.onMessage?.();
          return simEnvelope(i, seqs.slice(m * o.batch, (m + 1) * o.batch), o.backfill);
        });
      } finally {
        await client.endAsync();
      }
    }),
  );
  return sent;
}

/** Publish `count` messages made by `make` with at most `inFlight` awaiting PUBACK. */
async function window(client: MqttClient, inFlight: number, count: number, make: (m: number) => { topic: string; payload: string }): Promise<void> {
  let next = 0;
  let failed: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    let pending = 0;
    const pump = () => {
      if (failed) return reject(failed);
      if (next >= count && pending === 0) return resolve();
      while (pending < inFlight && next < count) {
        const { topic, payload } = make(next++);
        pending++;
        client.publish(topic, payload, { qos: 1 }, (err) => {
          pending--;
          if (err) failed = err;
          pump();
        });
      }
    };
    pump();
  });
}
