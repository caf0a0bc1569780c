# boot.py: runs first at every reset, before main.py. Kept tiny on purpose:
# a mistake in main.py can then never lock you out of the REPL.
import gc

try:
    import esp

    esp.osdebug(None)  # keep the ESP-IDF log off the serial console
except ImportError:  # not an ESP board
    pass

gc.collect()
