"""A camera to Plexus with OpenCV: live video plus a reading per frame.

    pip install opencv-python-headless numpy   # or, in a checkout: pip install -e '.[video]'
    python examples/camera.py --camera 0          # the first USB camera (/dev/video0)
    python examples/camera.py --synthetic         # no camera: a generated test picture

Video is live: frames travel over the WebSocket while it is connected and
are dropped, never buffered, while it is not (readings are buffered as
always). The web dashboard and the Data API's video stream show it.
For an RTSP or network camera, px.stream_camera(url) runs FFmpeg instead.
"""

import argparse
import time

import cv2
import numpy as np

from plexus import Plexus


def synthetic_frame(i, width=640, height=480):
    """A moving bar over a gradient, with the frame number: proof that video flows."""
    x = np.linspace(0, 255, width, dtype=np.uint8)
    frame = np.dstack([np.tile(x, (height, 1)), np.full((height, width), 64, np.uint8),
                       np.tile(x[::-1], (height, 1))])
    left = (i * 8) % width
    frame[:, left:left + 40] = (255, 255, 255)
    cv2.putText(frame, "plexus frame %d" % i, (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    return frame


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--camera", type=int, default=0, help="OpenCV camera index")
    ap.add_argument("--synthetic", action="store_true", help="generate frames instead of opening a camera")
    ap.add_argument("--camera-id", default="front", help="name of this camera in Plexus")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--source-id", default="inspection-cell")
    ap.add_argument("--count", type=int, default=0, help="stop after N frames (default: run until Ctrl-C)")
    args = ap.parse_args()

    cap = None
    if not args.synthetic:
        cap = cv2.VideoCapture(args.camera)
        if not cap.isOpened():
            print("camera %d cannot be opened: sending a synthetic picture instead" % args.camera)
            cap = None

    px = Plexus(source_id=args.source_id)
    deadline = time.monotonic() + 10
    while not px.connected and time.monotonic() < deadline:  # frames sent before this are dropped
        time.sleep(0.05)

    n = 0
    try:
        while not args.count or n < args.count:
            t0 = time.monotonic()
            if cap is not None:
                ok, frame = cap.read()
                if not ok:
                    print("the camera stopped delivering frames")
                    break
            else:
                frame = synthetic_frame(n)
            px.send_video_frame(frame, camera_id=args.camera_id, quality=80)  # encoded to JPEG off-thread
            px.send("camera.brightness", round(float(frame.mean()), 2), tags={"camera": args.camera_id})
            n += 1
            time.sleep(max(0.0, 1.0 / args.fps - (time.monotonic() - t0)))
    except KeyboardInterrupt:
        pass
    finally:
        if cap is not None:
            cap.release()
        ok = px.flush_buffer(timeout=30)
        print("%d frames from camera %r as %s; readings %s"
              % (n, args.camera_id, px.source_id, "all stored" if ok else "partly buffered"))
        px.close()


if __name__ == "__main__":
    main()
