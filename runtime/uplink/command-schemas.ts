import type { ValidateFunction } from 'ajv';
import type { CommandSchemas } from './commands.js';

/**
 * The gateway's command validators, each compiled on the first command of its name: a gateway
 * loads ajv (and compiles one schema) only when a command arrives, never the contract's record,
 * envelope and status schemas it does not check (`npm run bench -- memory`: README, Memory).
 */
export function lazyCommandSchemas(dir?: string): CommandSchemas {
  const compiled = new Map<string, Promise<ValidateFunction | undefined>>();
  return {
    command(name) {
      let v = compiled.get(name);
      if (!v) {
        v = import('./contract.js').then((c) => c.loadCommandValidator(name, dir));
        compiled.set(name, v);
      }
      return v;
    },
  };
}
