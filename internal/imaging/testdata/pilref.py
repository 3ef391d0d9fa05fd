#!/usr/bin/python3
"""Reference side of edgefit's imaging comparison test.

  pilref.py check                       exit 0 when PIL and numpy import
  pilref.py gen DIR SEED COUNT MAXSIZE  write COUNT random images to DIR
  pilref.py ref DIR OUT R[,R...] [--torch]
      for every file in DIR, decode it as torchvision's pil_loader does
      (Image.open(f).convert("RGB")) and apply OFA's test transform at each
      resolution R: torchvision Resize(int(ceil(R/0.875))) with PIL bilinear,
      CenterCrop(R), ToTensor, Normalize(ImageNet mean/std). The torchvision
      steps are written out here with PIL and numpy (float32 throughout, one
      rounding per operation as torch does); --torch also runs torchvision
      itself and fails unless both agree bit for bit.

Outputs per input NAME: NAME.rgb (W*H*3 bytes), NAME.R.u8 (R*R*3 bytes
after resize and crop, HWC), NAME.R.f32 (3*R*R little-endian float32, CHW),
or NAME.err with the exception text; index.json maps NAME to its size.
"""
import io
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFile

# Pillow's read chunk: ImageFile.load hands its decoders the file in pieces
# of this size (each image copies MAXBLOCK into decodermaxblock when it is
# opened), and libjpeg's behaviour at the end of a piece is part of what is
# compared, so decoding must run with Pillow's default.
PILLOW_MAXBLOCK = 65536
assert ImageFile.MAXBLOCK == PILLOW_MAXBLOCK


def encoder_maxblock():
    """Pillow sizes its JPEG encoder buffer from MAXBLOCK; optimized noisy
    images can need more ("Suspension not allowed here"). Generation only."""
    ImageFile.MAXBLOCK = 1 << 26

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def tv_resize(img, size):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return img
    return img.resize((new_w, new_h), Image.BILINEAR)


def tv_center_crop(img, r):
    w, h = img.size
    if r > w or r > h:
        pl, pt = (r - w) // 2 if r > w else 0, (r - h) // 2 if r > h else 0
        pr, pb = (r - w + 1) // 2 if r > w else 0, (r - h + 1) // 2 if r > h else 0
        canvas = Image.new(img.mode, (w + pl + pr, h + pt + pb), 0)
        canvas.paste(img, (pl, pt))
        img = canvas
        w, h = img.size
        if (w, h) == (r, r):
            return img
    top = int(round((h - r) / 2.0))
    left = int(round((w - r) / 2.0))
    return img.crop((left, top, left + r, top + r))


def to_tensor(img):
    a = np.asarray(img, dtype=np.uint8).astype(np.float32)
    a = a / np.float32(255)
    a = (a - MEAN) / STD
    return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)


def test_transform(img, r):
    s = int(math.ceil(r / 0.875))
    return tv_center_crop(tv_resize(img, s), r)


def torch_check(img, r, crop, tensor):
    import torch
    from torchvision import transforms

    s = int(math.ceil(r / 0.875))
    t1 = transforms.Compose([transforms.Resize(s), transforms.CenterCrop(r)])
    c = t1(img)
    if c.tobytes() != crop.tobytes():
        raise SystemExit("torchvision crop differs from the PIL/numpy one")
    t2 = transforms.Compose([transforms.ToTensor(), transforms.Normalize(list(map(float, [0.485, 0.456, 0.406])),
                                                                          [0.229, 0.224, 0.225])])
    tt = t2(c).numpy()
    if tt.tobytes() != tensor.tobytes():
        raise SystemExit("torchvision tensor differs from the numpy one")


def ref(indir, outdir, rs, use_torch):
    os.makedirs(outdir, exist_ok=True)
    index = {}
    for name in sorted(os.listdir(indir)):
        path = os.path.join(indir, name)
        try:
            with open(path, "rb") as f:
                img = Image.open(f)
                assert img.decodermaxblock == PILLOW_MAXBLOCK
                img = img.convert("RGB")
        except Exception as e:  # noqa: BLE001 - the message is the result
            with open(os.path.join(outdir, name + ".err"), "w") as f:
                f.write(f"{type(e).__name__}: {e}")
            index[name] = {"error": True}
            continue
        with open(os.path.join(outdir, name + ".rgb"), "wb") as f:
            f.write(img.tobytes())
        index[name] = {"w": img.size[0], "h": img.size[1]}
        for r in rs:
            crop = test_transform(img, r)
            tensor = to_tensor(crop)
            if use_torch:
                torch_check(img, r, crop, tensor)
            with open(os.path.join(outdir, f"{name}.{r}.u8"), "wb") as f:
                f.write(crop.tobytes())
            with open(os.path.join(outdir, f"{name}.{r}.f32"), "wb") as f:
                f.write(tensor.astype("<f4").tobytes())
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump(index, f)


# ---------------------------------------------------------------- generation

def picture(rng, w, h):
    """A smooth colour field with shapes and some noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = []
    for _ in range(3):
        fx, fy = rng.uniform(0.2, 12) / max(w, 1), rng.uniform(0.2, 12) / max(h, 1)
        ph = rng.uniform(0, 6.3)
        chans.append(127.5 + 120 * np.sin(2 * np.pi * (fx * x + fy * y) + ph))
    a = np.stack(chans, axis=-1)
    noise = rng.choice([0, 0, 4, 20, 60])
    if noise:
        a += np.asarray(np.random.default_rng(rng.randrange(1 << 30)).normal(0, noise, a.shape), dtype=np.float32)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for _ in range(rng.randrange(0, 6)):
        x0, y0 = rng.randrange(-w // 2, w), rng.randrange(-h // 2, h)
        x1, y1 = x0 + rng.randrange(1, w + 1), y0 + rng.randrange(1, h + 1)
        col = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            d.rectangle([x0, y0, x1, y1], fill=col)
        else:
            d.ellipse([x0, y0, x1, y1], fill=col)
    return img


def png_chunk(t, data):
    c = t + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def raw_png(w, h, depth, ctype, rows, plte=None, trns=None):
    """A PNG written by hand, for what PIL cannot write (16-bit RGB, ...)."""
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if plte is not None:
        out += png_chunk(b"PLTE", plte)
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def pack_bits(vals, depth):
    out, acc, n = bytearray(), 0, 0
    for v in vals:
        acc = (acc << depth) | int(v)
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def segments(data):
    """Split a JPEG into (marker, bytes) pieces: header segments and scans."""
    pos, out = 2, [(0xD8, data[:2])]
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError("bad marker")
        m = data[pos + 1]
        if m == 0xD9:
            out.append((m, data[pos:pos + 2]))
            break
        n = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + n
        if m == 0xDA:  # entropy data runs to the next non-RST marker
            while True:
                j = data.index(b"\xff", end)
                if data[j + 1] == 0 or 0xD0 <= data[j + 1] <= 0xD7:
                    end = j + 2
                    continue
                end = j
                break
        out.append((m, data[pos:end]))
        pos = end
    return out


def cjpeg(img, args):
    if shutil.which("cjpeg") is None:
        return None
    buf = io.BytesIO()
    img.save(buf, "PPM" if img.mode == "RGB" else "PPM")
    p = subprocess.run(["cjpeg"] + args, input=buf.getvalue(), capture_output=True, check=True)
    return p.stdout


SCAN_SCRIPTS = [
    # complete scripts with unusual order
    "0 1 2: 0 0 0 0;\n0: 1 63 0 0;\n1: 1 63 0 0;\n2: 1 63 0 0;\n",
    "0: 0 0 0 1;\n1 2: 0 0 0 0;\n0: 1 9 0 0;\n0: 10 63 0 0;\n0: 0 0 1 0;\n1: 1 63 0 0;\n2: 1 63 0 0;\n",
    # incomplete scripts: libjpeg's block smoothing estimates what is missing
    "0 1 2: 0 0 0 0;\n0: 1 5 0 2;\n",
    "0 1 2: 0 0 0 1;\n",
    "0 1 2: 0 0 0 0;\n0: 1 63 0 1;\n1: 1 63 0 0;\n",
    "0: 0 0 0 0;\n1: 0 0 0 0;\n2: 0 0 0 0;\n0: 1 2 0 0;\n1: 1 9 0 3;\n2: 3 63 0 0;\n",
]


def random_file(rng, i, maxsize, tmp):
    w, h = rng.randrange(1, maxsize + 1), rng.randrange(1, maxsize + 1)
    if rng.random() < 0.3:
        w, h = rng.randrange(1, 40), rng.randrange(1, 40)
    img = picture(rng, w, h)
    kind = rng.choice(["pil", "pil", "pil", "prog", "gray", "cmyk", "ycck", "cjpeg", "cjpeg", "scans",
                       "rgbjpeg", "png", "png", "corrupt", "arith", "arithbad"])
    q = rng.choice([1, 10, 50, 75, 90, 95, 100, rng.randrange(1, 101)])
    name = f"r{i:05d}_{kind}"
    if kind in ("pil", "prog"):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q, subsampling=rng.choice([0, 1, 2]), progressive=kind == "prog",
                 optimize=rng.random() < 0.3)
        return name + ".jpg", buf.getvalue()
    if kind == "gray":
        buf = io.BytesIO()
        img.convert("L").save(buf, "JPEG", quality=q, progressive=rng.random() < 0.3)
        return name + ".jpg", buf.getvalue()
    if kind in ("cmyk", "ycck"):
        buf = io.BytesIO()
        img.convert("CMYK").save(buf, "JPEG", quality=q, progressive=rng.random() < 0.3)
        data = buf.getvalue()
        if kind == "ycck":  # same data read as YCCK: Adobe transform 2
            j = data.index(b"Adobe")
            data = data[:j + 11] + b"\x02" + data[j + 12:]
        return name + ".jpg", data
    if kind == "arithbad":
        if shutil.which("cjpeg") is None:
            return random_file(rng, i, maxsize, tmp)
        args = ["-arithmetic", "-quality", str(q)]
        if rng.random() < 0.4:
            args += ["-progressive"]
        if rng.random() < 0.4:
            args += ["-restart", str(rng.randrange(1, 4))]
        return damage(rng, bytearray(cjpeg(img, args)), name)
    if kind in ("cjpeg", "scans", "rgbjpeg", "arith"):
        if shutil.which("cjpeg") is None:
            return random_file(rng, i, maxsize, tmp)
        args = ["-quality", str(q)]
        gray = rng.random() < 0.15
        facs = ["1x1", "2x1", "1x2", "2x2", "4x1", "1x4", "4x2", "3x1", "4x4", "2x4"]
        if gray:
            args += ["-grayscale", "-sample", rng.choice(facs[:4])]
        elif kind != "rgbjpeg":
            args += ["-sample", ",".join([rng.choice(facs), rng.choice(["1x1", "1x1", "2x1", "1x2", "2x2"]), "1x1"])]
        if kind == "rgbjpeg":
            args += ["-rgb"]
        if kind == "arith":  # libjpeg-turbo decodes arithmetic coding (Pillow: if each scan fits its 64 KiB chunk)
            args += ["-arithmetic"]
        if rng.random() < 0.5:
            args += ["-restart", str(rng.randrange(1, 5)) + rng.choice(["", "B"])]
        if (kind == "scans" or (kind == "arith" and rng.random() < 0.3)) and not gray:
            path = os.path.join(tmp, f"scans{i}.txt")
            with open(path, "w") as f:
                f.write(rng.choice(SCAN_SCRIPTS))
            args += ["-scans", path]
        elif rng.random() < 0.3:
            args += ["-progressive"]
        if rng.random() < 0.3:
            args += ["-optimize"]
        try:
            data = cjpeg(img, args)
        except subprocess.CalledProcessError:
            return random_file(rng, i, maxsize, tmp)
        return name + ".jpg", data
    if kind == "png":
        return name + ".png", random_png(rng, img)
    return corrupt(rng, img, name, q)


def random_png(rng, img):
    w, h = img.size
    mode = rng.choice(["1", "L", "LA", "RGB", "RGBA", "P", "Ptrns", "I16", "RGB16", "RGBA16", "LA16", "L2", "L4",
                       "Pshort", "P4", "Ltrns", "RGBtrns"])
    buf = io.BytesIO()
    if mode in ("1", "L", "LA", "RGB", "RGBA"):
        img.convert(mode).save(buf, "PNG")
    elif mode == "P":
        img.convert("P", palette=Image.ADAPTIVE, colors=rng.randrange(2, 257)).save(buf, "PNG")
    elif mode == "Ptrns":
        p = img.convert("P", palette=Image.ADAPTIVE, colors=64)
        p.save(buf, "PNG", transparency=rng.randrange(64))
    elif mode == "Ltrns":
        img.convert("L").save(buf, "PNG", transparency=rng.randrange(256))
    elif mode == "RGBtrns":
        img.save(buf, "PNG", transparency=img.getpixel((0, 0)))
    elif mode == "I16":
        a = np.asarray(img.convert("L"), dtype=np.uint16)
        a = a * np.uint16(rng.choice([1, 2, 257])) + np.uint16(rng.randrange(0, 50))
        return raw_png(w, h, 16, 0, [r.astype(">u2").tobytes() for r in a])
    elif mode in ("RGB16", "RGBA16", "LA16"):
        a = np.asarray(img, dtype=np.uint16) * np.uint16(257) + np.uint16(rng.randrange(0, 257))
        if mode == "LA16":
            a = np.stack([a[..., 0], a[..., 1]], axis=-1)
            ct = 4
        elif mode == "RGBA16":
            a = np.concatenate([a, a[..., :1]], axis=-1)
            ct = 6
        else:
            ct = 2
        return raw_png(w, h, 16, ct, [r.astype(">u2").tobytes() for r in a])
    elif mode in ("L2", "L4"):
        depth = 2 if mode == "L2" else 4
        a = np.asarray(img.convert("L"), dtype=np.uint16) >> (8 - depth)
        return raw_png(w, h, depth, 0, [pack_bits(r, depth) for r in a])
    elif mode == "Pshort":  # indices past the end of a short palette
        a = np.asarray(img.convert("L"), dtype=np.uint8)
        n = rng.randrange(1, 40)
        plte = bytes(rng.randrange(256) for _ in range(3 * n))
        return raw_png(w, h, 8, 3, [r.tobytes() for r in a], plte=plte)
    elif mode == "P4":
        a = np.asarray(img.convert("L"), dtype=np.uint8) >> 4
        plte = bytes(rng.randrange(256) for _ in range(48))
        return raw_png(w, h, 4, 3, [pack_bits(r, 4) for r in a], plte=plte, trns=b"\x00\x80")
    return buf.getvalue()


def corrupt(rng, img, name, q):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q, progressive=rng.random() < 0.4, subsampling=rng.choice([0, 2]))
    return damage(rng, bytearray(buf.getvalue()), name)


def damage(rng, data, name):
    how = rng.choice(["cut", "cut", "eoi", "flip", "flip", "noeoi", "garbage", "dropscans"])
    if how == "cut":
        data = data[:rng.randrange(2, len(data))]
    elif how == "eoi":  # premature end of image inside the scan
        data = data[:rng.randrange(len(data) // 3, len(data))] + b"\xff\xd9"
    elif how == "flip":
        start = data.index(b"\xff\xda") + 12
        for _ in range(rng.randrange(1, 6)):
            j = rng.randrange(start, len(data) - 2)
            data[j] ^= 1 << rng.randrange(8)
    elif how == "noeoi":
        data = data[:-2]
    elif how == "garbage":
        data = data[:-2] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20))) + b"\xff\xd9"
    elif how == "dropscans":
        segs = segments(bytes(data))
        scans = [k for k, (m, _) in enumerate(segs) if m == 0xDA]
        if len(scans) > 1:
            keep = rng.randrange(1, len(scans))
            drop = set(scans[keep:])
            data = b"".join(s for k, (m, s) in enumerate(segs) if k not in drop and m != 0xD9) + b"\xff\xd9"
    return f"{name}_{how}.jpg", bytes(data)


def gen(outdir, seed, count, maxsize):
    encoder_maxblock()
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    tmp = os.path.join(outdir, "..", "pilref-tmp")
    os.makedirs(tmp, exist_ok=True)
    for i in range(count):
        name, data = random_file(rng, i, maxsize, tmp)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


def main():
    cmd = sys.argv[1]
    if cmd == "check":
        return
    if cmd == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "ref":
        ref(sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(",")], "--torch" in sys.argv[5:])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
