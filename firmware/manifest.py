# Freeze the Plexus core into a custom MicroPython firmware.
#
# Frozen modules run from flash: they load faster and leave more RAM free than
# files copied to the board. Build from a MicroPython checkout, e.g.:
#
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/plexus-sdk/firmware/manifest.py
#
#   cd micropython/ports/esp32
#   idf.py -D MICROPY_BOARD=ESP32_GENERIC \
#          -D MICROPY_FROZEN_MANIFEST=/path/to/plexus-sdk/firmware/manifest.py build
#
# Flash the result, then `plexus deploy --no-core` copies only main.py, boot.py
# and the config (the frozen core is found first: '.frozen' precedes '/lib'
# on sys.path). Paths below are relative to this file.

# Everything the board's standard firmware freezes (asyncio, network helpers...).
include("$(PORT_DIR)/boards/manifest.py")

package("plexus_core", base_path="../core")  # the core shared with CPython
package("plexus_board", base_path="../core")  # the board client, flash log and links
package("plexus", base_path="../core/board")  # `from plexus import Plexus`
module("plexus_device.py", base_path="lib")  # board helpers used by the firmware
module("plexus_app.py", base_path="lib")  # the firmware loop main.py starts
