"""Vision on one core: face pipeline frame rate, face-to-capture latency, page rectification.

- face_fps: the face camera's per-frame work (quality gates with tracking, eyes, liveness,
  the mirrored preview) on 640x480 frames of a live citizen; detector_fps: the full-frame
  face detector alone on the same frames, so pipeline_vs_detector shows the pipeline's cost
  against a detector-per-frame design (above 1: the pipeline is the cheaper).
- capture_latency_s: from a good face appearing in the simulated camera (MJPEG over HTTP
  at 30 fps) to FaceCameraService.capture returning (5 stable frames), median of runs.
- rectify_ms: find, rectify, flatten and deskew one page in a 3264x2448 frame, median.

"One core": OpenCV's own threads off and the measuring thread pinned to one CPU (for the
latency run, the device thread doing the capture; the simulated camera runs beside it, as
a real camera is a separate device). Prints one JSON object as its last line.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time

import cv2

from drivers.document_scan import scan_page
from drivers.face_detection import FaceDetector, to_grey
from drivers.face_quality import FaceQualityGate
from drivers.liveness import LivenessObserver
from peripherals.face_camera import FaceCameraService
from simulator.camera import CameraServer, SceneComposer
from simulator.camera.document_scene import DocumentSceneComposer

FACE_FRAMES = 150
LATENCY_RUNS = 5
RECTIFY_RUNS = 7


def _one_cpu() -> set[int]:
    return {min(os.sched_getaffinity(0))}


def face_rates() -> tuple[float, float]:
    composer = SceneComposer(seed=11)
    composer.scene = "live"
    frames = [composer.next_frame() for _ in range(FACE_FRAMES)]
    gate = FaceQualityGate()
    liveness = LivenessObserver()
    service = FaceCameraService("unused")  # only its preview conversion is used here

    def pipeline() -> None:
        for frame in frames:
            assessment = gate.assess(frame)
            if assessment.face is not None:
                f = assessment.face
                liveness.observe(
                    to_grey(frame), (f.x, f.y, f.w, f.h), len(assessment.eyes) == 2, 0.0
                )
            service._preview(frame)

    detector = FaceDetector()

    def detector_alone() -> None:
        for frame in frames:
            detector.detect(frame)

    pipeline()  # warm up caches and lazy initialisation
    detector_alone()
    started = time.perf_counter()
    pipeline()
    face_fps = FACE_FRAMES / (time.perf_counter() - started)
    started = time.perf_counter()
    detector_alone()
    detector_fps = FACE_FRAMES / (time.perf_counter() - started)
    service.close()
    return face_fps, detector_fps


async def capture_latency() -> float:
    composer = SceneComposer(seed=12)
    server = CameraServer(composer, fps=30)
    await server.start()
    service = FaceCameraService(server.url)
    latencies = []
    try:
        # Pin the service's device thread, where all the per-frame work runs.
        await service._worker.call(os.sched_setaffinity, 0, _one_cpu())
        for _ in range(LATENCY_RUNS):
            composer.face_visible = False
            task = asyncio.create_task(service.capture(lambda frame, hint: None, 5, 20.0))
            await asyncio.sleep(1.0)  # the camera is open and sees the empty hall
            appeared = time.perf_counter()
            composer.scene = "live"
            await task
            latencies.append(time.perf_counter() - appeared)
    finally:
        service.close()
        await server.stop()
    return statistics.median(latencies)


def rectify_ms() -> float:
    composer = DocumentSceneComposer(3264, 2448, seed=13)
    composer.scene = "text_page"
    frame = composer.next_frame()
    scan_page(frame)  # warm up
    times = []
    for _ in range(RECTIFY_RUNS):
        started = time.perf_counter()
        scan_page(frame)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    cv2.setNumThreads(1)
    latency = asyncio.run(capture_latency())
    os.sched_setaffinity(0, _one_cpu())  # this thread, for the rest of the run
    face_fps, detector_fps = face_rates()
    rectify = rectify_ms()
    print(
        json.dumps(
            {
                "face_fps": round(face_fps, 1),
                "detector_fps": round(detector_fps, 1),
                "pipeline_vs_detector": round(face_fps / detector_fps, 2),
                "capture_latency_s": round(latency, 3),
                "rectify_ms": round(rectify, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
