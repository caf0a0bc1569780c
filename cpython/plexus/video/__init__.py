"""Video frames to the gateway (docs/protocol.md §4.13), CPython only.

    px.send_video_frame(frame)                 # ndarray (BGR/gray) or image bytes
    cam = px.stream_camera("/dev/video0")      # FFmpeg -> MJPEG -> frames
    cam.stop()

A frame becomes JPEG bytes that fit the 750,000-byte budget (encode) and
travels as one binary WebSocket message whose layout is the core's
(plexus_core.videoframe), sent latest-frame-wins from a thread of its own
(sender); cameras are read through FFmpeg (camera, mjpeg).

JPEG bytes pass through without any dependency. Arrays, other image formats
and re-encoding need OpenCV and numpy: pip install opencv-python-headless numpy.
"""

from plexus.video.camera import (DEFAULT_CAMERA, INPUT_FORMATS, CameraStream, ffmpeg_command,  # noqa: F401
                                 ffmpeg_quality, redact_url)
from plexus.video.encode import (DEFAULT_QUALITY, EOI, EXTRA_HINT, MAX_FIT_PASSES, MAX_JPEG_SIDE,  # noqa: F401
                                 MIN_QUALITY, SOI, as_bgr_image, check_quality, decode_image, encode_jpeg,
                                 fit_jpeg, fit_jpeg_bytes, jpeg_size, prepare_frame)
from plexus.video.mjpeg import MAX_MJPEG_FRAME_BYTES, MjpegSplitter, read_mjpeg_frames  # noqa: F401
from plexus.video.sender import VideoSender  # noqa: F401
from plexus_core.videoframe import (FRAME_VERSION, MAX_ID_BYTES, MAX_JPEG_BYTES, build_frame,  # noqa: F401
                                    parse_frame, truncate_utf8)
