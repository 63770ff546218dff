"""Renderer choice by measurement: our torch rasteriser against library backends.

Same scene for every backend: the primary male composite at 34 y (anny head, short
hair and bust merged, as ``face.render.prepare_scene`` builds it), 512 px, the three
views, the camera of ``face.render.camera``. Backends:

* ``torch``: the production renderer (``face.render``), full image (visibility +
  shading + anti-aliasing), CPU.
* ``warp``: NVIDIA Warp mesh ray casting (``wp.Mesh`` BVH + ``wp.mesh_query_ray``),
  one primary ray per pixel, CPU (anny already installs warp-lang). Visibility only:
  triangle id, barycentrics and depth per pixel, i.e. what our rasteriser hands to
  the shading stage (which would stay the same torch code).
* ``moderngl``: OpenGL 3.3 over a headless EGL context (Mesa llvmpipe here),
  triangle id per pixel (visibility only). Used only if ``moderngl`` is importable;
  it is not a project dependency.

Per backend: warm time per view (best of the repetitions), whether two runs give
identical bytes in the process and in a second process, agreement of the visible
triangle per pixel with the torch rasteriser, and whether a CUDA path exists.
A backend that cannot start is reported as "not available" with the reason.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks --only bench_renderers``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

VIEWS = ("front", "three_quarter", "profile")
SIZE = 512


def _scene():  # type: ignore[no-untyped-def]
    from s2f_desktop.face.anny_model import load_head_model
    from s2f_desktop.face.bust import build_bust
    from s2f_desktop.face.hair import build_hair
    from s2f_desktop.face.mapping import build_parameters, spec_from_parameters
    from s2f_desktop.face.render import prepare_scene

    spec = spec_from_parameters(build_parameters(sex="male", age_years=34, sex_note="", age_note=""))
    mesh = load_head_model("cpu").mesh(spec.phenotypes, spec.local_changes)
    hair = build_hair(mesh, spec.hair_style, recede=spec.hair_recession)
    return prepare_scene(mesh, hair, spec.appearance, build_bust(mesh, spec.female), "cpu")


def _cam_space(sc, view: str) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    """Vertices relative to the camera (x right, y depth, z up) and the focal length."""
    from s2f_desktop.face.render import camera

    rot, pivot, cam, focal = camera(sc, view, SIZE)
    return (sc.verts - pivot) @ rot.T + pivot - cam, focal


def _torch_fid(sc, view: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    from s2f_desktop.face.render import rasterize

    rel, focal = _cam_space(sc, view)
    screen = torch.as_tensor(np.stack([SIZE / 2 + focal * rel[:, 0] / rel[:, 1],
                                       SIZE / 2 - focal * rel[:, 2] / rel[:, 1], rel[:, 1]], 1), dtype=torch.float64)
    pix, fid, _, _ = rasterize(screen, sc.faces, SIZE, SIZE, sc.two_sided)
    out = np.full(SIZE * SIZE, -1, dtype=np.int64)
    out[pix.numpy()] = fid.numpy()
    return out


def _backend_torch(sc):  # type: ignore[no-untyped-def]
    from s2f_desktop.face.render import render_views

    def one(view: str) -> bytes:
        return render_views(sc, (view,), SIZE)[view].tobytes()

    return one, "CUDA: same code with device='cuda' (torch)", "0 MB extra (torch is already required)"


def _backend_warp(sc):  # type: ignore[no-untyped-def]
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING
    wp.init()

    @wp.kernel
    def cast(mesh: wp.uint64, origin: wp.vec3, ex: wp.vec3, ey: wp.vec3, ez: wp.vec3, focal: float, size: int,
             fid: wp.array(dtype=wp.int32), uvt: wp.array(dtype=wp.vec3)):
        tid = wp.tid()
        px = tid % size
        py = tid // size
        half = float(size) * 0.5
        d = wp.normalize(ex * ((float(px) + 0.5 - half) / focal) + ey - ez * ((float(py) + 0.5 - half) / focal))
        q = wp.mesh_query_ray(mesh, origin, d, 100.0)
        if q.result:
            fid[tid] = q.face
            uvt[tid] = wp.vec3(q.u, q.v, q.t)
        else:
            fid[tid] = -1
            uvt[tid] = wp.vec3(0.0, 0.0, 0.0)

    dev = "cpu"
    # BVH built once per composite in head space; rays are turned into head space per view.
    points = wp.array(sc.verts.astype(np.float32), dtype=wp.vec3, device=dev)
    faces = sc.faces.numpy().astype(np.int32).reshape(-1)
    t0 = time.perf_counter()
    mesh = wp.Mesh(points=points, indices=wp.array(faces, dtype=wp.int32, device=dev))
    build_s = time.perf_counter() - t0
    fid = wp.zeros(SIZE * SIZE, dtype=wp.int32, device=dev)
    uvt = wp.zeros(SIZE * SIZE, dtype=wp.vec3, device=dev)

    from s2f_desktop.face.render import camera

    def one(view: str) -> bytes:
        rot, pivot, cam, focal = camera(sc, view, SIZE)
        origin = (cam - pivot) @ rot + pivot  # world -> head space
        axes = [wp.vec3(*(np.asarray(a, dtype=np.float64) @ rot).tolist()) for a in np.eye(3)]
        wp.launch(cast, dim=SIZE * SIZE, inputs=[mesh.id, wp.vec3(*origin.tolist()), *axes, float(focal), SIZE,
                                                   fid, uvt], device=dev)
        wp.synchronize_device(dev)
        return fid.numpy().tobytes() + uvt.numpy().tobytes()

    cuda = wp.get_cuda_device_count() > 0
    return (one, f"CUDA: same kernel with device='cuda:0' ({'present' if cuda else 'no CUDA driver here'}); "
            f"BVH build {build_s * 1000:.0f} ms", "warp-lang 1.19 wheel ~390 MB (already installed by anny)")


def _backend_moderngl(sc):  # type: ignore[no-untyped-def]
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl")
    renderer = ctx.info.get("GL_RENDERER", "?")
    prog = ctx.program(vertex_shader="""
        #version 330
        uniform float fx; uniform float near; uniform float far;
        in vec3 p;
        void main() {
            float a = (far + near) / (far - near), b = -2.0 * far * near / (far - near);
            gl_Position = vec4(fx * p.x, fx * p.z, a * p.y + b, p.y);
        }""", fragment_shader="""
        #version 330
        out int id;
        void main() { id = gl_PrimitiveID; }""")
    tex = ctx.texture((SIZE, SIZE), 1, dtype="i4")
    depth = ctx.depth_renderbuffer((SIZE, SIZE))
    fbo = ctx.framebuffer([tex], depth)
    ibo = ctx.buffer(sc.faces.numpy().astype(np.int32).tobytes())

    def one(view: str) -> bytes:
        rel, focal = _cam_space(sc, view)
        vbo = ctx.buffer(rel.astype(np.float32).tobytes())
        vao = ctx.vertex_array(prog, [(vbo, "3f", "p")], ibo)
        prog["fx"].value = focal / (SIZE / 2)
        prog["near"].value, prog["far"].value = 0.5, 3.0
        fbo.use()
        fbo.clear(depth=1.0)
        tex.write(np.full(SIZE * SIZE, -1, dtype=np.int32).tobytes())
        ctx.enable(moderngl.DEPTH_TEST)
        vao.render(moderngl.TRIANGLES)
        data = np.frombuffer(tex.read(), dtype=np.int32).reshape(SIZE, SIZE)[::-1].copy()
        vao.release()
        vbo.release()
        return data.tobytes()

    return one, f"EGL {renderer}; CUDA/GPU: needs an NVIDIA EGL driver", "moderngl+glcontext ~1.4 MB + Mesa EGL"


BACKENDS = {"torch": _backend_torch, "warp": _backend_warp, "moderngl": _backend_moderngl}


def _digest(name: str) -> str:
    sc = _scene()
    one = BACKENDS[name](sc)[0]
    return hashlib.sha256(b"".join(one(v) for v in VIEWS)).hexdigest()


def _other_process(name: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_renderers", "--digest", name], capture_output=True,
                         text=True, env=env, timeout=600)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1])["digest"] if out.returncode == 0 and lines else "failed"


def run(quick: bool = False) -> list[dict]:
    sc = _scene()
    reference = {v: _torch_fid(sc, v) for v in VIEWS}
    reps = 2 if quick else 3
    rows: list[dict] = []
    for name, make in BACKENDS.items():
        try:
            one, cuda_note, footprint = make(sc)
            one("front")  # warm-up: kernel compilation, context creation, allocator
        except Exception as exc:  # any backend that cannot start here is reported, not fatal
            rows.append({"benchmark": f"renderer {name}", "value": "not available", "unit": "",
                         "target": "", "note": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"})
            continue
        per_view, outputs = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            outputs.append(b"".join(one(v) for v in VIEWS))
            per_view.append((time.perf_counter() - t0) / len(VIEWS))
        digest = hashlib.sha256(outputs[0]).hexdigest()
        same_in_process = all(o == outputs[0] for o in outputs)
        same_across = _other_process(name) == digest
        note = f"{'visibility only' if name != 'torch' else 'full image (visibility + shading + AA)'}; {cuda_note}"
        if name != "torch":
            agree = []
            for v in VIEWS:
                fid = np.frombuffer(one(v)[:SIZE * SIZE * 4], dtype=np.int32).astype(np.int64)
                ref = reference[v]
                cov = (ref >= 0) | (fid >= 0)
                agree.append(float((fid[cov] == ref[cov]).mean()))
            note += f"; same visible triangle as torch on {100 * min(agree):.1f}-{100 * max(agree):.1f} % of pixels"
        rows.append({"benchmark": f"renderer {name}: time per view (512 px, warm, CPU)", "value": min(per_view),
                     "unit": "s", "target": "", "note": note})
        rows.append({"benchmark": f"renderer {name}: identical bytes (2 runs / 2 processes)",
                     "value": f"{'yes' if same_in_process else 'no'} / {'yes' if same_across else 'no'}",
                     "unit": "", "target": "yes / yes", "note": f"footprint: {footprint}"})
    return rows


if __name__ == "__main__":
    if "--digest" in sys.argv:
        print(json.dumps({"digest": _digest(sys.argv[sys.argv.index("--digest") + 1])}))
    else:
        for r in run(quick="--quick" in sys.argv):
            print(r)
