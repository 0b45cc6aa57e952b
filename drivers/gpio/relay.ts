/**
 * Relay outputs on GPIO lines. `RelayOutput` is the small interface the write gate uses; the
 * real implementation drives a line through onoff (sysfs); `MemoryRelay` is the stand-in where
 * no GPIO exists (CI, replays). Both pass the same contract test (test/control/gpio-relay.test.ts).
 *
 * State on process exit: the pin keeps its last level (we do not unexport on close, so a relay
 * is not dropped by a gateway restart); wire loads so that a de-energised relay (gateway power
 * loss) is the safe state.
 */
import { createRequire } from 'node:module';
import { gpioNumber } from './chip.js';

export interface RelayOutput {
  readonly id: string;
  set(on: boolean): Promise<void>;
  get(): Promise<boolean>;
  close(): void;
}

/** Minimal shape of onoff's Gpio class that we use. */
interface OnoffGpio {
  read(): Promise<0 | 1>;
  write(v: 0 | 1): Promise<void>;
}
interface OnoffModule {
  Gpio: (new (gpio: number, direction: 'in' | 'out' | 'high' | 'low', edge?: 'none', options?: { activeLow?: boolean; reconfigureDirection?: boolean }) => OnoffGpio) & {
    accessible: boolean;
  };
}

let onoffModule: OnoffModule | undefined;
function onoff(): OnoffModule {
  // onoff is CommonJS with a native epoll binding: load it only when a real relay is configured.
  onoffModule ??= createRequire(import.meta.url)('onoff') as OnoffModule;
  return onoffModule;
}

/** Whether this machine exposes sysfs GPIO that onoff can use. */
export function gpioAccessible(): boolean {
  try {
    return onoff().Gpio.accessible;
  } catch {
    return false;
  }
}

export class OnoffRelay implements RelayOutput {
  private readonly gpio: OnoffGpio;
  readonly number: number;

  /**
   * `line` is the offset on the chip (BCM number on a Raspberry Pi); the global sysfs number is
   * looked up from the chip's base. The relay starts off unless `initialOn`. sysfs `direction`
   * high/low sets the PHYSICAL level (the kernel ignores active_low there), so an active-low relay
   * board starts off at a high pin: initial level = initialOn XOR activeLow. A line that is already
   * an output (a gateway restart) keeps its level.
   */
  constructor(
    readonly id: string,
    line: number,
    opts: { activeLow?: boolean; chipLabel?: string; sysfsRoot?: string; initialOn?: boolean } = {},
  ) {
    this.number = gpioNumber(line, { label: opts.chipLabel, root: opts.sysfsRoot });
    const { Gpio } = onoff();
    const physicalHigh = !!opts.initialOn !== !!opts.activeLow;
    this.gpio = new Gpio(this.number, physicalHigh ? 'high' : 'low', 'none', { activeLow: !!opts.activeLow, reconfigureDirection: false });
  }

  async set(on: boolean): Promise<void> {
    await this.gpio.write(on ? 1 : 0);
  }

  async get(): Promise<boolean> {
    return (await this.gpio.read()) === 1;
  }

  close(): void {
    // Deliberately no unexport: the relay keeps its state across a gateway restart.
  }
}

/** In-memory relay (no hardware): records its state and the number of changes. */
export class MemoryRelay implements RelayOutput {
  private on: boolean;
  changes = 0;
  constructor(
    readonly id: string,
    initialOn = false,
  ) {
    this.on = initialOn;
  }
  async set(on: boolean): Promise<void> {
    if (on !== this.on) this.changes++;
    this.on = on;
  }
  async get(): Promise<boolean> {
    return this.on;
  }
  close(): void {}
}
