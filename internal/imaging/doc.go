// Package imaging owns pixels: it decodes JPEG and PNG files and applies
// OFA's preprocessing so that every value is bit for bit what upstream OFA
// computes in Python, where torchvision 0.14's ImageFolder loads each file
// with Image.open(f).convert("RGB") (Pillow 9.4 on libjpeg-turbo 2.1.5),
// and the test transform is Resize(int(ceil(r/0.875))), CenterCrop(r),
// ToTensor() and Normalize(ImageNet mean, std). BatchNorm statistics and
// accuracy depend on these pixels, and a careful but different resize
// already moves recalibrated logits by 1e-2, so "close" is not enough.
//
// The entry points are [Decode] (or [DecodeInto], reusing memory),
// [TestTransform] (or [TestCrop] for the 8-bit crop) and, for training-
// style calibration, [TrainCrop]. [Probe] reads only a file's header.
//
// # Recognizing a file
//
// As Pillow does, the format comes from the content, not the name: a file
// starting FF D8 FF is a JPEG, one starting with the PNG signature a PNG.
// GIF, BMP, TIFF, WebP, JPEG 2000 and PNM files (which Pillow would open
// too) are refused with an error naming their format; anything else is
// refused as not an image. Images above [MaxPixels] are refused from the
// header, before pixel memory is allocated.
//
// # JPEG
//
// The decoder reproduces libjpeg-turbo 2.1.5 as Pillow drives it: default
// settings (the accurate integer IDCT, "fancy" upsampling, no scaling,
// block smoothing on), output in RGB for three components, grayscale for
// one and CMYK for four.
//
// Markers. Baseline, extended-sequential (8-bit) and progressive frames
// are decoded, Huffman or arithmetic coded, with any number of scans,
// restart intervals and sampling factors 1 to 4 whose ratios to the
// largest are integers. Lossless and hierarchical frames, 12-bit samples
// and 2-component images are refused with an *[UnsupportedError], as
// Pillow refuses them. Bytes between markers are skipped and fill bytes 0xFF swallowed
// as libjpeg does; an unknown marker, a second SOF, or a scan referring to
// an unknown component is an error. Huffman tables are checked as libjpeg
// checks them, and a sequential file that leaves table slot 0 or 1
// undefined gets the standard tables of the JPEG specification (Annex K).
// Quantization tables are latched per component at its first scan, so
// later redefinitions do not affect it.
//
// Colour space. As libjpeg guesses: one component is grayscale; three
// components are YCbCr when a JFIF APP0 marker is present, else RGB when an
// Adobe APP14 marker says transform 0, else YCbCr unless the component ids
// are 'R', 'G', 'B'; four components are YCCK when an Adobe marker says a
// nonzero transform, CMYK otherwise.
//
// Entropy decoding. Huffman codes are read with libjpeg's bit reader. When
// the data of a scan meets a marker before the scan is complete, the rest
// of that restart interval reads as zero bits, and the MCUs after the one
// in progress stay all zero (uniform gray), until the next restart marker;
// a bit pattern that is no code decodes as symbol 0 after 17 bits; run
// lengths that overshoot a block land on its last coefficient; a missing or
// unexpected restart marker is resynchronized with libjpeg's rules. These
// files decode, to the same pixels, in Pillow too (it ignores libjpeg's
// warnings). When the file itself ends before the image is complete, the
// result is [ErrTruncated], as Pillow (LOAD_TRUNCATED_IMAGES off) raises
// "image file is truncated": for a single-scan image this happens exactly
// when libjpeg would ask for more data, which depends on when it refills
// its bit buffer (its fast and careful decoding paths refill differently,
// and Pillow hands it the file in 64 KiB chunks), and all of that is
// followed, so a file that only lacks its EOI marker is accepted or
// refused exactly as Pillow accepts or refuses it. A multi-scan
// (progressive) image must reach EOI. After the scans, data past EOI is
// ignored.
//
// Arithmetic coding (T.81 Annex D, F.1.4.4, G.2) follows libjpeg-turbo's
// decoder: conditioning from DAC segments (defaults L=0, U=1, K=5), the
// statistics reset at each scan and restart marker, a marker inside the
// data supplies zero bytes from there on, and a run or magnitude overflow
// in corrupt data stops decoding until the next restart marker. That
// decoder cannot suspend, and Pillow hands libjpeg the file in 64 KiB
// pieces, so Pillow fails ("broken data stream") on any arithmetic-coded
// scan whose data runs past the piece that was current when the scan
// began; such a file is refused with an *[UnsupportedError], and one whose
// scans each fit decodes to Pillow's pixels.
//
// Progressive scans follow the JPEG specification (DC first and refinement
// scans, AC spectral selection with end-of-band runs, successive
// approximation refinement). When a file's scan script leaves any of the
// first nine AC coefficients of a component less than fully coded,
// libjpeg-turbo's block smoothing applies: each such coefficient that is
// still zero is estimated from a 5x5 neighbourhood of DC values (and the DC
// values are smoothed too when none of the nine was ever coded), with
// libjpeg-turbo 2.1's weights and its window rules at image edges.
// Complete scripts, as every common encoder writes, never take this path.
//
// Inverse DCT. Coefficients are dequantized and transformed with libjpeg's
// accurate integer IDCT (jidctint.c: 13-bit fixed-point constants, a column
// pass keeping 2 extra fraction bits, a row pass rounded and shifted by
// +128) as libjpeg-turbo's x86-64 SIMD code computes it, in 16-bit lanes:
// for valid data that is exactly the C code's result; for corrupt data
// whose values overflow 16 bits the lanes wrap or saturate as the SIMD code
// does, so such files also give Pillow's pixels on x86-64 machines.
//
// Upsampling. A component with half the horizontal resolution of the
// largest is upsampled with the triangle filter out = (3*nearer + farther
// + 1 or 2) >> 2 (bias 1 for the left output, 2 for the right; edge
// samples repeat); half the vertical resolution likewise with the row
// above (bias 1) or below (bias 2); half in both with the separable
// version on column sums, (3*a + b + 8 or 7) >> 4 (libjpeg's h2v2 fancy
// upsampler). A component only 1 or 2 samples wide at half horizontal
// resolution, and every other integral ratio (4:1:1 and such), is
// replicated. Edge rows repeat the first and the last real row.
//
// Colour conversion uses libjpeg's tables with 16 fraction bits: with
// u = Cb - 128 and v = Cr - 128, R = Y + ((91881 v + 32768) >> 16), B = Y +
// ((116130 u + 32768) >> 16) and G = Y + ((-22554 u - 46802 v + 32768) >>
// 16), each clamped to 0..255. Grayscale becomes RGB by replication. For
// four components libjpeg returns CMYK (YCCK is first converted, C = 255 -
// R and so on, K kept); Pillow then reads it as Adobe-inverted CMYK
// ("CMYK;I", whatever the markers say) and converts it to RGB, which for
// the values c, m, y, k libjpeg returned comes to R = k - d((255 - c) k),
// G = k - d((255 - m) k), B = k - d((255 - y) k), where d(x) = (t + (t >>
// 8)) >> 8 with t = x + 128 is Pillow's rounded division by 255.
// EXIF orientation is not applied;
// Pillow's open and convert do not apply it either.
//
// # PNG
//
// PNG files are decoded by Go's image/png (lossless, so only the
// conversion to RGB needs care) and converted as Pillow's convert("RGB")
// converts the mode Pillow opens them in: 1-, 2-, 4- and 8-bit gray (modes
// 1 and L) and 8-bit gray with alpha (LA) give the gray value in all three
// channels; 16-bit gray opens as mode I and converts clipped, values above
// 255 becoming 255; 16-bit gray with alpha and 16-bit RGB or RGBA take the
// high byte of each sample; 8-bit RGB and RGBA give their colour, alpha
// dropped without compositing; palette images give their palette colour,
// and an index past the end of a short palette gives Pillow's default
// entry (i, i, i). Transparency chunks never change the colours. Go's
// decoder checks every chunk's CRC and wants a complete zlib stream; Pillow
// skips the CRC of image data chunks, so a PNG corrupt only there decodes
// in Pillow but is an error here.
//
// # Resize, crop, tensor
//
// [Resize] is Pillow's Image.resize((w, h), Image.BILINEAR) on 8-bit RGB
// (Resample.c). For each axis the scale is in/out and the filter support
// is max(scale, 1); output sample i has centre (i + 0.5) * scale and uses
// input samples from int(centre - support + 0.5) to int(centre + support +
// 0.5) (clamped to the image), with triangle weights 1 - |(j - centre +
// 0.5) / max(scale, 1)|, computed in float64 and divided by their sum, then
// converted to fixed point with 22 fraction bits by int(0.5 + w * 2^22).
// The horizontal pass runs first, into an 8-bit intermediate image that
// holds only the rows the vertical pass reads; each sum starts at 2^21 and
// is shifted right 22 bits and clamped to 0..255. A pass whose size does
// not change is skipped. Every floating-point operation is rounded on its
// own, as C on x86-64 does (no fused multiply-add). [ResizeBox] takes
// Pillow's box argument (in float32, as Pillow keeps it).
//
// torchvision's Resize(s) on a PIL image: the shorter side becomes s, the
// longer int(s * long / short) (an exact product, one float64 division,
// truncated); an image already of that size is returned as is
// ([ShorterSide], [ResizeShorter]). CenterCrop(c): an image smaller than c
// is padded with black ((c - w) // 2 on the left or top), then the crop's
// corner is int(round((w - c) / 2)) with round half to even ([CropOrigin],
// [CenterCrop]). OFA's test transform resizes to [TestSize](r) =
// int(ceil(r / 0.875)) and crops r; [TestCrop] computes only the pixels of
// the crop, which are the same as those of the full resize.
//
// ToTensor and Normalize ([Normalizer]): channel-major float32, each value
// (float32(v) / 255 - mean) / std with the division, subtraction and
// division each rounded to float32 and mean and std rounded from float64 to
// float32, as torch does; [ImageNet] uses OFA's mean (0.485, 0.456, 0.406)
// and std (0.229, 0.224, 0.225).
//
// # Training-style augmentation
//
// [TrainCrop] is torchvision's RandomResizedCrop(r, scale=(0.08, 1),
// ratio=(3/4, 4/3)) with Pillow's bilinear resize, then
// RandomHorizontalFlip(0.5). [CropParams] is its get_params: up to ten
// tries of an area fraction uniform in scale and an aspect ratio uniform in
// log space, w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)),
// the first that fits placed uniformly at random; otherwise the whole image
// cut to the nearest allowed ratio, centred. The random numbers come from a
// Go PCG generator seeded per image ([AugmentRNG]), so results depend on
// the seed and the image's index only, not on decoding order or
// parallelism. They cannot be torch's random numbers: the crops follow the
// same distribution, not the same draws.
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo.
package imaging
