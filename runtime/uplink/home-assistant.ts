/**
 * Home Assistant MQTT discovery (optional, `uplink.homeAssistant.enabled`): one retained config
 * per sensor under `<prefix>/sensor/<node>/<object>/config` (default prefix `homeassistant`), so a
 * site shows up in Home Assistant with no glue. Values come from `<gateway prefix>/device/<id>/state`
 * (retained JSON of the device's latest good values); availability from the gateway status and
 * the device's availability topic (both must be online).
 */
import type { MetadataDevice, MetadataPoint } from './metadata.js';

export interface HomeAssistantConfig {
  enabled?: boolean;
  /** Discovery prefix (Home Assistant's `discovery_prefix`). Default `homeassistant`. */
  prefix?: string;
}

/** Home Assistant sensor classes by canonical point name. */
const SENSOR_CLASSES: Record<string, { device_class?: string; state_class: string; unit: string }> = {
  active_power: { device_class: 'power', state_class: 'measurement', unit: 'W' },
  active_power_l1: { device_class: 'power', state_class: 'measurement', unit: 'W' },
  active_power_l2: { device_class: 'power', state_class: 'measurement', unit: 'W' },
  active_power_l3: { device_class: 'power', state_class: 'measurement', unit: 'W' },
  reactive_power: { device_class: 'reactive_power', state_class: 'measurement', unit: 'var' },
  energy_import: { device_class: 'energy', state_class: 'total_increasing', unit: 'kWh' },
  energy_export: { device_class: 'energy', state_class: 'total_increasing', unit: 'kWh' },
  soc: { device_class: 'battery', state_class: 'measurement', unit: '%' },
  voltage_l1: { device_class: 'voltage', state_class: 'measurement', unit: 'V' },
  voltage_l2: { device_class: 'voltage', state_class: 'measurement', unit: 'V' },
  voltage_l3: { device_class: 'voltage', state_class: 'measurement', unit: 'V' },
  current_l1: { device_class: 'current', state_class: 'measurement', unit: 'A' },
  current_l2: { device_class: 'current', state_class: 'measurement', unit: 'A' },
  current_l3: { device_class: 'current', state_class: 'measurement', unit: 'A' },
  frequency: { device_class: 'frequency', state_class: 'measurement', unit: 'Hz' },
  power_factor: { device_class: 'power_factor', state_class: 'measurement', unit: '' },
};

/** MQTT/HA-safe id: letters, digits, underscore. */
const safe = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');

export const deviceStateTopic = (prefix: string, device: string) => `${prefix}/device/${device}/state`;

/** The points of a device Home Assistant gets a sensor for (known canonical, unit as HA expects). */
export function sensorPoints(device: MetadataDevice): { point: MetadataPoint; cls: (typeof SENSOR_CLASSES)[string] }[] {
  const out: { point: MetadataPoint; cls: (typeof SENSOR_CLASSES)[string] }[] = [];
  for (const point of device.points) {
    const cls = point.canonical ? SENSOR_CLASSES[point.canonical] : undefined;
    if (!cls || point.type !== 'number') continue;
    if (cls.unit && point.unit && point.unit !== cls.unit) continue; // HA would mislabel e.g. kW as W
    out.push({ point, cls });
  }
  return out;
}

/** Discovery topic -> config payload for every sensor of every device. */
export function discoveryConfigs(
  devices: readonly MetadataDevice[],
  ids: { site: string; siteName?: string; gateway: string },
  gatewayPrefix: string,
  discoveryPrefix = 'homeassistant',
): Map<string, Record<string, unknown>> {
  const node = safe(`carbonedge_${ids.site}_${ids.gateway}`);
  const configs = new Map<string, Record<string, unknown>>();
  for (const d of devices) {
    for (const { point, cls } of sensorPoints(d)) {
      const object = safe(`${d.id}_${point.id}`);
      configs.set(`${discoveryPrefix}/sensor/${node}/${object}/config`, {
        name: point.description ?? point.id,
        unique_id: `${node}_${object}`,
        object_id: `${node}_${object}`,
        state_topic: deviceStateTopic(gatewayPrefix, d.id),
        value_template: `{{ value_json.${point.id} }}`,
        ...(cls.device_class ? { device_class: cls.device_class } : {}),
        state_class: cls.state_class,
        ...(cls.unit ? { unit_of_measurement: cls.unit } : {}),
        availability: [
          { topic: `${gatewayPrefix}/status`, value_template: '{{ value_json.state }}' },
          { topic: d.availabilityTopic, value_template: '{{ value_json.state }}' },
        ],
        availability_mode: 'all',
        device: {
          identifiers: [`${node}_${safe(d.id)}`],
          name: d.name ?? d.id,
          manufacturer: d.profile.manufacturer,
          model: d.profile.model,
          suggested_area: ids.siteName ?? ids.site,
        },
        origin: { name: 'carbonedge' },
      });
    }
  }
  return configs;
}
