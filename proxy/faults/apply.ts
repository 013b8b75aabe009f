/**
 * Applying a fault's action to one WebSocket connection. One-shot actions (close, cut) act at
 * once and leave nothing behind; the others install a hook on the pipes of their direction and
 * return an Application whose `end()` removes it (when the fault ends or is deleted).
 */
import { Opcode } from '../ws/frame-scanner.js';
import type { Pipe, PipeShaper } from '../ws/pipe.js';
import type { WsConnection } from '../ws/connection.js';
import { seededRandom } from './random.js';
import { DelayShaper, HoldShaper, type QueueShaper, ThrottleShaper } from './shaper.js';
import type { FaultSide, FaultSpec } from './spec.js';
import { TruncateShaper } from './truncate.js';

export interface Application {
  end(): void;
}

function sides(direction: FaultSide): Array<'client' | 'backend'> {
  return direction === 'both' ? ['client', 'backend'] : [direction];
}

/** How many active faults drop each opcode on a pipe, so that ending one keeps the others. */
const dropCounts = new WeakMap<Pipe, number[]>();

function dropFrames(conn: WsConnection, direction: FaultSide, opcode: number): Application {
  const pipes = sides(direction).map((s) => conn.pipeToward(s));
  for (const p of pipes) {
    let counts = dropCounts.get(p);
    if (!counts) {
      counts = new Array<number>(16).fill(0);
      dropCounts.set(p, counts);
    }
    counts[opcode]! += 1;
    p.dropOpcodes |= 1 << opcode;
  }
  return {
    end() {
      for (const p of pipes) {
        const counts = dropCounts.get(p)!;
        counts[opcode]! -= 1;
        if (counts[opcode] === 0) p.dropOpcodes &= ~(1 << opcode);
      }
    },
  };
}

function shape(
  conn: WsConnection,
  direction: FaultSide,
  make: (p: Pipe) => PipeShaper & { stop(): void },
): Application | null {
  const installed: Array<QueueShaper | TruncateShaper> = [];
  for (const s of sides(direction)) {
    const p = conn.pipeToward(s);
    // One shaper per direction: a second shaping fault on the same pipe leaves it alone.
    if (p.shaper !== null) continue;
    const shaper = make(p) as QueueShaper | TruncateShaper;
    p.shaper = shaper;
    installed.push(shaper);
  }
  if (installed.length === 0) return null;
  return {
    end() {
      for (const s of installed) s.stop();
    },
  };
}

/** Acts on `conn`; returns what to undo when the fault ends, or null when nothing stays installed. */
export function applyFault(spec: FaultSpec, conn: WsConnection, seed: number): Application | null {
  switch (spec.action) {
    case 'close':
      conn.faultClose(spec.direction, spec.code, spec.reason, 'fault_close');
      return null;
    case 'cut':
      conn.faultReset(spec.direction, 'fault_cut');
      return null;
    case 'drop-pongs':
      return dropFrames(conn, spec.direction, Opcode.Pong);
    case 'withhold-close':
      return dropFrames(conn, spec.direction, Opcode.Close);
    case 'stall':
      return shape(conn, spec.direction, (p) => new HoldShaper(p));
    case 'delay': {
      const random = seededRandom(seed);
      return shape(conn, spec.direction, (p) => new DelayShaper(p, spec.delayMs, spec.jitterMs, random));
    }
    case 'throttle':
      return shape(conn, spec.direction, (p) => new ThrottleShaper(p, spec.rate));
    case 'truncate': {
      let fired = false;
      return shape(
        conn,
        spec.direction,
        (p) =>
          new TruncateShaper(p, () => {
            if (fired) return;
            fired = true;
            conn.faultReset('both', 'fault_truncate');
          }),
      );
    }
    default:
      // Upgrade actions never reach an open connection.
      return null;
  }
}
