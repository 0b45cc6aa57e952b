import type { MqttClient } from 'mqtt';

/**
 * Wait for a client's first connection and subscribe `topic` at QoS 1, unless the broker kept the
 * session (a persistent subscription is already there). The first connection error rejects and
 * ends the client; later ones are the client's reconnects.
 */
export function firstConnectAndSubscribe(client: MqttClient, topic: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('error', fail);
    client.once('connect', (connack) => {
      client.removeListener('error', fail);
      if (connack.sessionPresent) return resolve();
      client.subscribe(topic, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  });
}
