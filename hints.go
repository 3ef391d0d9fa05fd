package edgefit

import (
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export/accuracy"
)

// ExportCommand is the 'edgefit export' command line that writes the model
// of config file cfg, a subnet of space, to output and checks it: with the
// checkpoint the subnet is to be cut from when there is one, else with
// --space unless it is [DefaultSpace], and with the calibration calib (nil:
// none) that the subnet's BatchNorm statistics were, or are to be,
// recalibrated with. Every flag that changes which model is written is
// there, quoted for a POSIX shell where needed; commands print it as their
// "next:" hint and the run's report shows it.
func ExportCommand(cfg, space, checkpoint, output string, calib *accuracy.CalibOptions) string {
	args := []string{"edgefit", "export", "--config", cfg}
	switch {
	case checkpoint != "":
		args = append(args, "--checkpoint", checkpoint)
	case space != DefaultSpace:
		args = append(args, "--space", space)
	}
	if calib != nil {
		args = append(args, "--calib-data", calib.Dir)
		if calib.Batch != accuracy.DefaultCalibBatch {
			args = append(args, "--calib-batch", strconv.Itoa(calib.Batch))
		}
		if calib.Images != accuracy.DefaultCalibImages {
			args = append(args, "--calib-images", strconv.Itoa(calib.Images))
		}
		if calib.Augment {
			args = append(args, "--calib-augment", "--calib-seed", strconv.FormatUint(calib.Seed, 10))
		}
		if calib.SkipBad {
			args = append(args, "--skip-bad-images")
		}
	}
	return CommandLine(append(args, "-o", output, "--verify")...)
}

// CommandLine joins args into a command for a person to copy into a
// shell, quoting each argument that the shell would otherwise split or
// expand, as [devices.QuoteArgs] does but for '=', which stays bare.
func CommandLine(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// shellQuote quotes s as [devices.Quote] does, except that '=' needs no
// quoting: an argument after the command name is never an assignment, and
// a path such as a=b.json reads better bare.
func shellQuote(s string) string {
	if w := strings.ReplaceAll(s, "=", "_"); devices.Quote(w) == w {
		return s
	}
	return devices.Quote(s)
}
