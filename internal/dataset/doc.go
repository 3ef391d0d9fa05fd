// Package dataset owns the user's image folders: which files are images,
// in which order, with which class labels, and streaming them as batches
// of preprocessed tensors for BatchNorm recalibration and accuracy
// measurement. Pixels come from package [imaging], which reproduces
// Pillow and torchvision bit for bit; this package reproduces what
// torchvision 0.14's datasets.ImageFolder does with a folder, so that
// batches hold the same images, in the same order, as OFA's loader.
//
// # Listing
//
// [ListLabelled] reads the ImageNet layout DIR/<class>/<file>. The class
// folders are the folders (or links to folders) directly in DIR, sorted by
// name; files directly in DIR are ignored, as ImageFolder ignores them.
// Within a class, files come in the order of Python's
// sorted(os.walk(class_dir, followlinks=True)): folders ordered by their
// whole path string, the class folder itself first, files sorted by name
// within each folder. Whole-path order is not a depth-first walk: a/sub-x
// and a/sub.x come before a/sub/deeper, because '-' and '.' sort before
// '/'. Names are compared by Unicode code point, which for UTF-8 is byte
// order; a byte of invalid UTF-8 sorts as Python's surrogate escape
// U+DC80+byte does. Symbolic links are followed; a link that loops back to
// a folder above it is an error (Python would follow it until paths grow
// too long).
//
// Images are the files whose names end in .jpg, .jpeg or .png in any case
// (.JPEG, .Png...), recognized by their content when read, not by the
// name. Files ending in the other extensions ImageFolder reads (.ppm .bmp
// .pgm .tif .tiff .webp) are an error naming them, since skipping them
// would change which images form each batch; every other file (.txt,
// .DS_Store...) is ignored as ImageFolder ignores it. A class folder
// without any image is an error naming it, as in ImageFolder.
//
// [ListUnlabelled] lists every image below DIR for calibration without
// labels: the images directly in DIR first, sorted by name, then each
// folder of DIR in sorted order, walked as a class folder is. For a
// class-folder tree this is ImageFolder's order.
//
// # Labels
//
// A labelled image's Label is the model's index of its class:
//
//   - with a labels file (LabelOptions.LabelsFile), line i (from 0) names
//     the folder of class i; trailing blank lines are ignored, a blank line
//     before the last name, a name given twice, a line count other than the
//     model's number of classes and a class folder the file does not name
//     are errors. The file wins over the rules below.
//   - otherwise, when every class folder is named by a non-negative decimal
//     integer (ASCII digits; leading zeros allowed, so "007" is class 7, and
//     two folders naming the same number are an error), that number is the
//     index and must be below the model's number of classes;
//   - otherwise, when there are exactly as many class folders as the model
//     has classes, the index is the folder's position in sorted order
//     (ImageFolder's class_to_idx);
//   - anything else is an error that names some of the folders, says how
//     many there are, and how to fix it.
//
// # Checks before long work
//
// [Set.Check] runs [Preflight]: every file's header is read (it opens, its
// first bytes say JPEG or PNG, its size is readable and below
// imaging.MaxPixels, its JPEG coding is supported), so that a text file
// named .jpg fails at once, not after an hour. Full-decode errors later are
// still reported with the file name. With skipBad, images that fail are
// counted, reported and left out; the batches are then formed from the
// remaining images in order.
//
// [Set.Limit] keeps the first N images of the order (the --calib-images
// count); [Set.Digest] is the SHA-256, in hex, of the ordered relative
// paths, each written with '/' separators and followed by "\n", recorded
// in the model metadata to identify the calibration images.
//
// # Streaming
//
// [NewLoader] decodes a list of images on GOMAXPROCS workers and yields
// [Batch]es of BatchSize images (the last one smaller) as float32 tensors,
// N x 3 x R x R, with their files and labels, always in list order whatever
// the number of workers. It holds at most BatchSize+Workers decoded images
// ahead of the consumer, reuses its buffers, and stops promptly when its
// context is cancelled. The transform is OFA's test transform by default,
// or the training-style augmentation ([CropTransform] of [AugmentCrop]),
// whose randomness is seeded per image so that it too does not depend on
// the workers.
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo
// (besides internal/imaging, a leaf helper too).
package dataset
