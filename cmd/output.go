package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/internal/atomicfile"
)

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeTable renders rows under header as a plain table.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderConfig(tw.CellConfig{
		Formatting: tw.CellFormatting{AutoFormat: tw.Off}, // keep "MACs" as written
		Padding:    tw.CellPadding{Global: tw.Padding{Left: " ", Right: " "}},
		Alignment:  tw.CellAlignment{Global: tw.AlignCenter},
	}))
	t.Header(header)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	return t.Render()
}

// progress reports advancement of long work on stderr: a bar with ETA on a
// terminal, nothing elsewhere (a pipe or a log gets the status lines
// only), nothing with --no-progress or --json.
type progress struct {
	bar   *progressbar.ProgressBar
	total int
}

func (g *globalOptions) newProgress(total int, desc string) *progress {
	p := &progress{total: total}
	if g.NoProg || g.JSON {
		return p
	}
	if f, ok := g.io.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(g.io.Err),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100_000_000),
		)
	}
	return p
}

// Set moves the progress to done of total (total may grow).
func (p *progress) Set(done, total int) {
	if p == nil || p.bar == nil {
		return
	}
	if total != p.total {
		p.bar.ChangeMax(total)
		p.total = total
	}
	_ = p.bar.Set(done)
}

// Done finishes the bar.
func (p *progress) Done() {
	if p != nil && p.bar != nil {
		_ = p.bar.Finish()
	}
}

// terminal reports the edgefit package's progress: status lines as info
// records of the command's logger (edgefit's one line format on stderr,
// silenced by --log-level warn), and each phase as a progress bar on a
// terminal (see newProgress).
type terminal struct{ g *globalOptions }

func (t terminal) Status(msg string) { t.g.logger().Info(msg) }

func (t terminal) Begin(phase string, total int) edgefit.Meter { return t.g.newProgress(total, phase) }

// checkOutput refuses, before any long work, an output path that cannot
// be written (its directory missing or read-only, or the path a
// directory; see atomicfile.CheckDir), as a usage error naming the flag
// and the path.
func checkOutput(flag, path string) error {
	if err := atomicfile.CheckDir(path); err != nil {
		return usageErrorf("%s: %v", flag, err)
	}
	return nil
}

// writeKV prints key/value rows aligned in two columns, for single results.
func writeKV(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], strings.Join(r[1:], " "))
	}
	return tw.Flush()
}
