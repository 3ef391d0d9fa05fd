// Package zoo knows the files that Once-for-All (OFA) publishes for its
// MobileNetV3 space, where they live, how to check them, and how to keep
// verified copies in a local cache.
//
// The [Catalogue] names four items: the two supernets ("ofa-mbv3-w1.0" and
// "ofa-mbv3-w1.2"), the tutorial accuracy predictor ("acc-predictor") and
// the Samsung Note10 latency lookup tables ("lut-note10"). Each [Item] lists
// its files with their URL, the name they get in the cache and, where OFA's
// published bytes are known, their size and git blob SHA-1. Every file also
// has a structure check: a supernet must load as a checkpoint of the
// expected width, the predictor as a 128-input MLP, each lookup table as a
// 96-key OFA YAML table.
//
// [Fetch] returns the cached files of an item, downloading what is missing.
// Downloads go to NAME.part and resume with HTTP Range requests after an
// interruption or a cancelled context; a file is renamed into place only
// after it passed every check, and a small NAME.verified sidecar records
// that, so later calls reuse the file without the network. [Import] places a
// file obtained elsewhere into the cache after the same checks, for machines
// that cannot reach OFA's server.
//
// [Resolve] is how every command that takes a file accepts a catalogue
// name instead: "--checkpoint ofa_mbv3_d234_e346_k357_w1.0", "--acc
// acc-predictor" or "lut import lut-note10" give the cached copy (a file
// of that name in the working directory wins), and a name the cache
// lacks is a [*NotFetchedError] saying to run 'edgefit fetch NAME'.
//
// The package imports supernet, the LUT format (profiler/lut,
// profiler/timing) and internal helpers only, and no cgo.
package zoo
