/**
 * Conversions of metered quantities to the basis their factor is given for: fuels to t or
 * 10^4 Nm3 (normal conditions), steam and hot water to GJ. Exact (Q); each conversion is stated in
 * words so the inventory line and the quarter-hour record say how the number was obtained.
 */
import type { ConfigIssue } from '../config/errors.js';
import { Q } from './exact.js';
import type { FuelParameters } from './factors.js';

/** Normal volume (Nm3, 0 degC / 101.325 kPa) of `v` m3 measured at base temperature/pressure. */
export function normalVolume(v: Q, baseTemperatureC: number | string | Q, basePressureKPa: number | string | Q = '101.325'): Q {
  const t0 = Q.from('273.15');
  return v.mul(Q.from(basePressureKPa).div('101.325')).mul(t0.div(t0.add(Q.from(baseTemperatureC))));
}

/** GJ of steam by mass: t x (h - 83.74 kJ/kg) x 10^-3. */
export function steamGJ(tonnes: Q, enthalpyKJperKg: Q): Q {
  return tonnes.mul(enthalpyKJperKg.sub('83.74')).div(1000);
}

/** GJ of hot water: t x (T - 20) x 4.1868 x 10^-3. */
export function hotWaterGJ(tonnes: Q, temperatureC: Q): Q {
  return tonnes.mul(temperatureC.sub(20)).mul('4.1868').div(1000);
}

/** A quantity of heat in GJ and how it was obtained. */
export interface HeatGJ {
  gj: Q;
  conversion: string;
}

/** Steam by mass: GJ and the conversion stated (`tonnesText`: the mass as the source wrote it). */
export function steamHeat(tonnes: Q, enthalpyKJperKg: number, tonnesText = tonnes.toString()): HeatGJ {
  return { gj: steamGJ(tonnes, Q.from(enthalpyKJperKg)), conversion: `GJ = ${tonnesText} t x (${enthalpyKJperKg} - 83.74) kJ/kg x 10^-3` };
}

/** Hot water by mass: GJ and the conversion stated (`tonnesText`: the mass as the source wrote it). */
export function hotWaterHeat(tonnes: Q, temperatureC: number, tonnesText = tonnes.toString()): HeatGJ {
  return { gj: hotWaterGJ(tonnes, Q.from(temperatureC)), conversion: `GJ = ${tonnesText} t x (${temperatureC} - 20) x 4.1868 x 10^-3` };
}

/** Heat metered in GJ, as metered. */
export const METERED_GJ = 'GJ as metered';

/** Convert a fuel quantity to its factor basis (t, or 10^4 Nm3), with the conversion stated. */
export function fuelToBasis(
  f: { quantity: number | Q; unit: string; baseTemperatureC?: number; basePressureKPa?: number; density?: number },
  params: FuelParameters,
  fuelId: string,
  where: string,
  file: string,
  issues: ConfigIssue[],
): { basisQuantity: Q; basisUnit: string; conversion: string } | undefined {
  const q = Q.from(f.quantity);
  const bad = (message: string) => {
    issues.push({ file, path: `${where}/unit`, message });
    return undefined;
  };
  if (params.basis === 'normal-volume') {
    switch (f.unit) {
      case 'Nm3':
        return { basisQuantity: q.div(10000), basisUnit: '10^4Nm3', conversion: 'Nm3 / 10^4' };
      case '10^4Nm3':
        return { basisQuantity: q, basisUnit: '10^4Nm3', conversion: 'none' };
      case 'm3': {
        if (f.baseTemperatureC === undefined) {
          issues.push({ file, path: `${where}/baseTemperatureC`, message: `${fuelId} in m3 needs the meter's base temperature (baseTemperatureC, e.g. 20) to correct to normal conditions (0 degC, 101.325 kPa); or give Nm3` });
          return undefined;
        }
        const p = f.basePressureKPa ?? 101.325;
        const n = normalVolume(q, f.baseTemperatureC, p);
        return {
          basisQuantity: n.div(10000),
          basisUnit: '10^4Nm3',
          conversion: `Vn = V x (${p}/101.325) x 273.15/(273.15+${f.baseTemperatureC}) = ${n.toFixed(6)} Nm3; / 10^4`,
        };
      }
      default:
        return bad(`${fuelId} is accounted by normal volume: expected unit Nm3, 10^4Nm3 or m3 (with baseTemperatureC), got '${f.unit}'`);
    }
  }
  switch (f.unit) {
    case 't':
      return { basisQuantity: q, basisUnit: 't', conversion: 'none' };
    case 'kg':
      return { basisQuantity: q.div(1000), basisUnit: 't', conversion: 'kg / 1000' };
    case 'm3':
    case 'L': {
      const d = f.density ?? params.density;
      if (d === undefined) {
        issues.push({ file, path: `${where}/density`, message: `${fuelId} in ${f.unit} needs its density (t/m3 = kg/L) to convert to mass` });
        return undefined;
      }
      const m3 = f.unit === 'L' ? q.div(1000) : q;
      return { basisQuantity: m3.mul(Q.from(d)), basisUnit: 't', conversion: `${f.unit === 'L' ? 'L / 1000' : 'm3'} x density ${d} t/m3` };
    }
    default:
      return bad(`${fuelId} is accounted by mass: expected unit t, kg, or m3/L with density, got '${f.unit}'`);
  }
}

