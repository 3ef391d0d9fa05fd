package imaging

import (
	"errors"
	"fmt"
)

// ErrTruncated reports image data that ends before the image is complete.
// Pillow (with ImageFile.LOAD_TRUNCATED_IMAGES False, its default, which
// torchvision's loader keeps) raises "image file is truncated" for the same
// files, so OFA's loader would stop on them too.
var ErrTruncated = errors.New("the file ends before the image data is complete (truncated download or copy?): replace or remove the file")

// FormatError reports data that is not a valid image of the format its
// header claims, or that the reference decoder (libjpeg-turbo as Pillow
// drives it) would also refuse.
type FormatError struct {
	Format string // "jpeg" or "png"
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("invalid %s data: %s", e.Format, e.Reason)
}

// UnsupportedError reports a valid image that uses a feature this package
// does not decode.
type UnsupportedError struct {
	Format  string
	Feature string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported %s image: %s (convert it to a baseline or progressive 8-bit JPEG, or to PNG)", e.Format, e.Feature)
}

// TooLargeError reports an image whose declared size is above [MaxPixels].
type TooLargeError struct {
	Width, Height int
	Limit         int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("image is %dx%d (%d pixels), above the limit of %d pixels (Pillow's, which refuses it as a decompression bomb too): downscale it first",
		e.Width, e.Height, e.Width*e.Height, e.Limit)
}

func jpegErr(format string, args ...any) error {
	return &FormatError{Format: "jpeg", Reason: fmt.Sprintf(format, args...)}
}

func jpegUnsupported(format string, args ...any) error {
	return &UnsupportedError{Format: "jpeg", Feature: fmt.Sprintf(format, args...)}
}
