import { COUNTER_CANONICALS } from '../metering/stage.js';
import type { Reading } from '../types.js';
import { pointJson } from './summary-json.js';
import type { PointRow, StoreRepository } from './repository.js';

export { COUNTER_CANONICALS } from '../metering/stage.js';

export interface PointInfo extends PointRow {
  counter: boolean;
  /** The fixed part of its summary records (built once; reset when canonical or unit change). */
  json?: string;
}

/** The points catalog (table `points`): a stable id per device/point, with canonical name and unit. */
export class PointsCatalog {
  /** device -> point -> info (two levels: no key string built per reading), and by id. */
  private readonly byName = new Map<string, Map<string, PointInfo>>();
  private readonly byIds = new Map<number, PointInfo>();

  constructor(
    private readonly repo: StoreRepository,
    private readonly counterPoints: ReadonlySet<string>,
  ) {}

  /** The point of a reading, added (or its canonical/unit updated) in the open unit of work. */
  pointFor(r: Pick<Reading, 'device' | 'point' | 'canonical' | 'unit'>): PointInfo {
    let dev = this.byName.get(r.device);
    if (!dev) this.byName.set(r.device, (dev = new Map()));
    let p = dev.get(r.point);
    if (!p) {
      const id = this.repo.insertPoint(r.device, r.point, r.canonical, r.unit);
      p = this.remember({ id, device: r.device, point: r.point, canonical: r.canonical, unit: r.unit });
    } else if ((r.canonical !== undefined && p.canonical !== r.canonical) || (r.unit !== undefined && p.unit !== r.unit)) {
      p.canonical = r.canonical ?? p.canonical;
      p.unit = r.unit ?? p.unit;
      p.counter = this.isCounter(p.device, p.point, p.canonical);
      p.json = undefined;
      this.repo.updatePoint(p.id, p.canonical, p.unit);
    }
    return p;
  }

  byId(id: number): PointInfo | undefined {
    return this.byIds.get(id);
  }

  byIdOrThrow(id: number): PointInfo {
    const p = this.byIds.get(id);
    if (!p) throw new Error(`unknown point id ${id}`);
    return p;
  }

  /** `pointJson` of a point, cached. */
  json(p: PointInfo): string {
    return (p.json ??= pointJson(p));
  }

  load(): void {
    this.byName.clear();
    this.byIds.clear();
    for (const row of this.repo.allPoints()) this.remember(row);
  }

  private remember(row: PointRow): PointInfo {
    const info: PointInfo = { ...row, counter: this.isCounter(row.device, row.point, row.canonical) };
    let dev = this.byName.get(row.device);
    if (!dev) this.byName.set(row.device, (dev = new Map()));
    dev.set(row.point, info);
    this.byIds.set(row.id, info);
    return info;
  }

  private isCounter(device: string, point: string, canonical?: string): boolean {
    return (canonical !== undefined && COUNTER_CANONICALS.has(canonical)) || this.counterPoints.has(`${device}/${point}`);
  }
}
