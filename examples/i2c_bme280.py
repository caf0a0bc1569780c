"""A Bosch BME280 (temperature, humidity, pressure) on I2C, read with smbus2.

    pip install smbus2                              # or, in a checkout: pip install -e '.[examples]'
    python examples/i2c_bme280.py --bus 1           # Raspberry Pi: SDA pin 3, SCL pin 5, 0x76
    python examples/i2c_bme280.py --fake --count 5  # no sensor: a stand-in bus (see FakeBus)

The compensation formulas are the floating-point ones from the BME280
datasheet (section 8.1); the sensor's factory calibration is read once.
"""

import argparse
import struct
import time

from plexus import Plexus

CHIP_ID, BME280_ID = 0xD0, 0x60
CTRL_HUM, CTRL_MEAS, CONFIG, DATA = 0xF2, 0xF4, 0xF5, 0xF7


class BME280:
    def __init__(self, bus, address=0x76):
        self.bus, self.addr = bus, address
        chip = bus.read_byte_data(address, CHIP_ID)
        if chip != BME280_ID:
            raise RuntimeError("no BME280 at 0x%02x (chip id 0x%02x; a BMP280 says 0x58 and has no "
                               "humidity): check the wiring and --address" % (address, chip))
        c = bytes(bus.read_i2c_block_data(address, 0x88, 24))
        self.T = struct.unpack_from("<Hhh", c, 0)
        self.P = struct.unpack_from("<Hhhhhhhhh", c, 6)
        h = bytes(bus.read_i2c_block_data(address, 0xE1, 7))
        h4 = (h[3] << 4) | (h[4] & 0x0F)
        h5 = (h[5] << 4) | (h[4] >> 4)
        self.H = (bus.read_byte_data(address, 0xA1), struct.unpack_from("<h", h, 0)[0], h[2],
                  h4 - 4096 if h4 > 2047 else h4, h5 - 4096 if h5 > 2047 else h5,
                  struct.unpack_from("<b", h, 6)[0])
        bus.write_byte_data(address, CTRL_HUM, 0x01)   # humidity x1 (takes effect with CTRL_MEAS)
        bus.write_byte_data(address, CONFIG, 0xA0)     # 1 s standby between measurements
        bus.write_byte_data(address, CTRL_MEAS, 0x27)  # temperature x1, pressure x1, normal mode

    def read(self):
        """(deg C, %RH, hPa) from the latest measurement."""
        d = self.bus.read_i2c_block_data(self.addr, DATA, 8)
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        T1, T2, T3 = self.T
        v1 = (adc_t / 16384.0 - T1 / 1024.0) * T2
        v2 = (adc_t / 131072.0 - T1 / 8192.0) ** 2 * T3
        t_fine = v1 + v2
        return t_fine / 5120.0, self._humidity(adc_h, t_fine), self._pressure(adc_p, t_fine) / 100.0

    def _pressure(self, adc, t_fine):
        P1, P2, P3, P4, P5, P6, P7, P8, P9 = self.P
        v1 = t_fine / 2.0 - 64000.0
        v2 = v1 * v1 * P6 / 32768.0 + v1 * P5 * 2.0
        v2 = v2 / 4.0 + P4 * 65536.0
        v1 = (P3 * v1 * v1 / 524288.0 + P2 * v1) / 524288.0
        v1 = (1.0 + v1 / 32768.0) * P1
        if v1 == 0:
            return 0.0
        p = (1048576.0 - adc - v2 / 4096.0) * 6250.0 / v1
        return p + (P9 * p * p / 2147483648.0 + p * P8 / 32768.0 + P7) / 16.0

    def _humidity(self, adc, t_fine):
        H1, H2, H3, H4, H5, H6 = self.H
        h = t_fine - 76800.0
        h = (adc - (H4 * 64.0 + H5 / 16384.0 * h)) * (
            H2 / 65536.0 * (1.0 + H6 / 67108864.0 * h * (1.0 + H3 / 67108864.0 * h)))
        h = h * (1.0 - H1 * h / 524288.0)
        return min(100.0, max(0.0, h))


class FakeBus:
    """Stands in for smbus2.SMBus when no sensor is attached: Linux has no
    virtual I2C bus to attach a simulated BME280 to. It answers with the
    BME280 datasheet's example calibration and readout (25.08 deg C,
    1006.53 hPa) and a humidity reading of about 51 %RH."""

    def __init__(self, bus=None):
        regs = bytearray(256)
        regs[CHIP_ID] = BME280_ID
        regs[0x88:0xA0] = struct.pack("<Hhh Hhhhhhhhh", 27504, 26435, -1000,
                                      36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
        regs[0xA1] = 75                                           # H1
        regs[0xE1:0xE8] = struct.pack("<hB", 362, 0) + bytes([324 >> 4, (324 & 0xF) | ((50 & 0xF) << 4),
                                                              50 >> 4]) + struct.pack("<b", 30)
        adc_p, adc_t, adc_h = 415148, 519888, 30000
        regs[DATA:DATA + 8] = bytes([adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4,
                                     adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4,
                                     adc_h >> 8, adc_h & 0xFF])
        self.regs = regs

    def read_byte_data(self, addr, reg):
        return self.regs[reg]

    def read_i2c_block_data(self, addr, reg, length):
        return list(self.regs[reg:reg + length])

    def write_byte_data(self, addr, reg, value):
        if reg not in (CTRL_HUM, CTRL_MEAS, CONFIG):
            raise OSError("register 0x%02x is read-only" % reg)
        self.regs[reg] = value

    def close(self):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bus", type=int, default=1, help="I2C bus number (/dev/i2c-N)")
    ap.add_argument("--address", type=lambda s: int(s, 0), default=0x76, help="0x76 or 0x77")
    ap.add_argument("--fake", action="store_true", help="no sensor attached: use the stand-in bus")
    ap.add_argument("--source-id", default="greenhouse-pi")
    ap.add_argument("--count", type=int, default=0, help="stop after N readings (default: run until Ctrl-C)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
    args = ap.parse_args()

    if args.fake:
        bus = FakeBus()
    else:
        from smbus2 import SMBus
        bus = SMBus(args.bus)
    sensor = BME280(bus, args.address)
    px = Plexus(source_id=args.source_id)
    n = 0
    try:
        while not args.count or n < args.count:
            temp, hum, hpa = sensor.read()
            px.send_batch([("env.temp_c", round(temp, 2)), ("env.humidity_pct", round(hum, 2)),
                           ("env.pressure_hpa", round(hpa, 2))], tags={"sensor": "bme280"})
            n += 1
            if not args.count or n < args.count:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        bus.close()
        ok = px.flush_buffer(timeout=30)
        print("%d readings from the BME280 as %s; %s" % (n, px.source_id, "all stored" if ok else "the rest stays buffered"))
        px.close()


if __name__ == "__main__":
    main()
