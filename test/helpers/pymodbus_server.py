#!/usr/bin/python3
"""Independent Modbus peer for carbonedge's interop tests: a pymodbus 3.0.0rc1 server.

Usage: /usr/bin/python3 pymodbus_server.py '<json spec>'

Spec (JSON):
  {"mode": "tcp" | "rtu" | "rtu-over-tcp",
   "port": 15020,                      # tcp / rtu-over-tcp (binds 127.0.0.1)
   "device": "/tmp/pty-b", "baud": 9600, "parity": "N", "stopbits": 1,   # rtu
   "units": {"1": {"holding": {"0": 17066, "1": 0, ...},     # zero-based address -> u16 word
                   "input": {...}, "coil": {"0": 1}, "discrete": {...}}},
   "silent": [3],                      # unit ids that never answer
   "delayMs": {"1": 500},              # per-unit reply delay (blocking, like a slow device)
   "delayCount": {"1": 1},             # only delay this many requests (default: all)
   "counters": {"1": {"holding": [100]}}   # registers whose value = reads so far (1, 2, ...)
  }
Addresses not in the image answer exception 02 (illegal data address), like a real device.

Control on stdin, one JSON object per line (applied in order):
  {"silent": [units]}  {"delayMs": {"1": 0}, "delayCount": {...}}
  {"set": {"unit": 1, "register": "holding", "address": 0, "values": [1, 2]}}
  {"remove": {"unit": 1, "register": "holding", "address": 5}}
Each control line is acknowledged with "OK <n>" on stdout. "READY" is printed once serving.
"""
import asyncio
import json
import logging
import sys
import threading
import time

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.exceptions import NoSuchSlaveException
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer

logging.basicConfig(level=logging.CRITICAL)
logging.getLogger("pymodbus").setLevel(logging.CRITICAL + 1)

STATE_LOCK = threading.Lock()


class FaultyBlock(ModbusSparseDataBlock):
    """A sparse block that can delay replies and expose read counters."""

    def __init__(self, values, unit, state, counters):
        super().__init__(values if values else {})
        if not values:
            self.values = {}
        self.unit = unit
        self.state = state
        self.counters = set(counters or [])
        self.reads = 0

    def validate(self, address, count=1):
        if not count:
            return False
        for a in range(address, address + count):
            if a not in self.values and a not in self.counters:
                return False
        return True

    def getValues(self, address, count=1):
        key = str(self.unit)
        with STATE_LOCK:
            delay = self.state["delayMs"].get(key, 0)
            left = self.state["delayCount"].get(key)
            if delay and left is not None:
                if left <= 0:
                    delay = 0
                else:
                    self.state["delayCount"][key] = left - 1
        if delay:
            time.sleep(delay / 1000.0)
        out = []
        hit_counter = False
        for a in range(address, address + count):
            if a in self.counters:
                if not hit_counter:
                    self.reads += 1
                    hit_counter = True
                out.append(self.reads & 0xFFFF)
            else:
                out.append(self.values[a])
        return out


class FaultyServerContext(ModbusServerContext):
    """Units listed in state["silent"] do not exist (server configured to stay silent)."""

    def __init__(self, slaves, state):
        super().__init__(slaves=slaves, single=False)
        self.state = state

    def __getitem__(self, slave):
        with STATE_LOCK:
            silent = set(self.state["silent"])
        if slave in silent:
            raise NoSuchSlaveException(f"unit {slave} is silent")
        return super().__getitem__(slave)


def build_context(spec, state):
    slaves = {}
    blocks = {}
    for unit_s, image in spec.get("units", {}).items():
        unit = int(unit_s)
        counters = spec.get("counters", {}).get(unit_s, {})
        kinds = {}
        for reg in ("coil", "discrete", "holding", "input"):
            vals = {int(k): int(v) for k, v in (image.get(reg) or {}).items()}
            kinds[reg] = FaultyBlock(vals, unit, state, counters.get(reg))
        blocks[unit] = kinds
        slaves[unit] = ModbusSlaveContext(
            co=kinds["coil"], di=kinds["discrete"], hr=kinds["holding"], ir=kinds["input"], zero_mode=True
        )
    return FaultyServerContext(slaves, state), blocks


def control_thread(loop, state, blocks):
    n = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        n += 1
        try:
            msg = json.loads(line)
            with STATE_LOCK:
                if "silent" in msg:
                    state["silent"] = [int(u) for u in msg["silent"]]
                if "delayMs" in msg:
                    state["delayMs"].update({str(k): int(v) for k, v in msg["delayMs"].items()})
                if "delayCount" in msg:
                    state["delayCount"].update({str(k): int(v) for k, v in msg["delayCount"].items()})
                if "set" in msg:
                    s = msg["set"]
                    block = blocks[int(s["unit"])][s["register"]]
                    for i, v in enumerate(s["values"]):
                        block.values[int(s["address"]) + i] = int(v)
                if "remove" in msg:
                    r = msg["remove"]
                    blocks[int(r["unit"])][r["register"]].values.pop(int(r["address"]), None)
            print(f"OK {n}", flush=True)
        except Exception as exc:  # report, keep serving
            print(f"ERR {n} {exc}", flush=True)
    # stdin closed: the test runner went away; stop serving.
    loop.call_soon_threadsafe(loop.stop)


async def main(spec):
    state = {
        "silent": [int(u) for u in spec.get("silent", [])],
        "delayMs": {str(k): int(v) for k, v in spec.get("delayMs", {}).items()},
        "delayCount": {str(k): int(v) for k, v in spec.get("delayCount", {}).items()},
    }
    context, blocks = build_context(spec, state)
    mode = spec["mode"]
    loop = asyncio.get_running_loop()
    if mode in ("tcp", "rtu-over-tcp"):
        framer = ModbusSocketFramer if mode == "tcp" else ModbusRtuFramer
        server = ModbusTcpServer(
            context, framer, None, ("127.0.0.1", int(spec["port"])),
            allow_reuse_address=True, ignore_missing_slaves=True,
        )
        task = asyncio.create_task(server.serve_forever())
        await server.serving
    elif mode == "rtu":
        server = ModbusSerialServer(
            context, ModbusRtuFramer, port=spec["device"], baudrate=int(spec.get("baud", 9600)),
            parity=spec.get("parity", "N"), stopbits=int(spec.get("stopbits", 1)), bytesize=8,
            timeout=0.01, ignore_missing_slaves=True,
        )
        await server.start()
        if server.transport is None:
            raise RuntimeError(f"could not open {spec['device']}")
        task = None
    else:
        raise ValueError(f"unknown mode {mode}")
    threading.Thread(target=control_thread, args=(loop, state, blocks), daemon=True).start()
    print("READY", flush=True)
    stop = asyncio.Event()
    try:
        await stop.wait()
    finally:
        if task:
            task.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main(json.loads(sys.argv[1])))
    except RuntimeError as exc:
        if "Event loop stopped" not in str(exc):
            print(f"FATAL {exc}", file=sys.stderr, flush=True)
            sys.exit(1)
