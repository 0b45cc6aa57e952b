import { serviceKey } from '../service-registry.js';
import type { Uplink } from './uplink.js';

/** The MQTT uplink (health, counters). */
export const UPLINK = serviceKey<Uplink>('uplink');
